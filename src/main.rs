//! emotune: the desktop app by default, and the subcommands of DESIGN.md's command-line contract.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use emotune::capture::SourceSpec;
use emotune::config::SpotifyEnv;
use emotune::eval::{LabelSet, Split};

#[derive(Parser)]
#[command(
    name = "emotune",
    version,
    about = "Reads the emotion on your face and plays matching music"
)]
struct Cli {
    /// What to watch: camera:N, an image, or a folder of images replayed as video. Not global:
    /// `recommend --source` names a music source.
    #[arg(long, value_name = "camera:N|PATH")]
    source: Option<SourceSpec>,
    /// TorchScript emotion model (default: models/emotion_resnet18_cbam.pt; env EMOTUNE_MODEL).
    #[arg(long, global = true, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Camera capture size, e.g. 1280x720 (the camera's closest mode is used; default 640x480,
    /// or what the settings say).
    #[arg(long, value_name = "WxH", value_parser = emotune::capture::parse_resolution)]
    resolution: Option<(u32, u32)>,
    /// Camera frame rate, or the replay rate of a folder of images (default 30 / 10).
    #[arg(long, value_name = "N", value_parser = emotune::capture::parse_fps)]
    fps: Option<f32>,
    /// Save a screenshot of the window to this PNG (with --quit-after).
    #[arg(long, value_name = "OUT.png")]
    screenshot: Option<PathBuf>,
    /// Close the app after this many seconds.
    #[arg(long, value_name = "SECS")]
    quit_after: Option<f64>,
    /// Open the Settings window at start.
    #[arg(long)]
    show_settings: bool,
    /// Open the History tab at start.
    #[arg(long)]
    show_history: bool,
    /// Start with the camera image hidden (V shows it); the faces are still read.
    #[arg(long)]
    hide_feed: bool,
    /// Start a neutral calibration of the active profile at once (the window).
    #[arg(long)]
    calibrate: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Faces and emotions per image.
    Classify {
        /// One JSON document per image, one per line.
        #[arg(long)]
        json: bool,
        /// Treat the whole image as one face (pre-cropped datasets such as FER-2013).
        #[arg(long)]
        assume_face: bool,
        /// Adjust the scores to this person's profile (`emotune profile`).
        #[arg(long, value_name = "NAME", conflicts_with = "neutral_ref")]
        profile: Option<String>,
        /// A picture of the same person with a relaxed face (one face, found by the detector);
        /// repeat it for several. Calibrates this run only, nothing is stored.
        #[arg(long = "neutral-ref", value_name = "IMG")]
        neutral_ref: Vec<PathBuf>,
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<PathBuf>,
    },
    /// Accuracy, macro-F1 and per-class metrics on a FER-2013 folder (Kaggle layout).
    Eval {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        #[arg(long, value_enum, default_value = "PrivateTest")]
        split: Split,
        /// ferplus: FER+'s plurality of ten votes per face (ties, contempt, unknown and
        /// not-a-face rows not scored), with calibration against the votes and the folder
        /// accuracy as a second figure; folder: FER-2013's folder labels.
        #[arg(long, value_enum, default_value = "ferplus")]
        labels: LabelSet,
        /// FER+'s vote table (default: ferplus.csv next to DIR or in ../shared/datasets/).
        #[arg(long, value_name = "ferplus.csv", env = "EMOTUNE_FERPLUS")]
        votes: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Also write the confusion matrix as a PNG.
        #[arg(long, value_name = "OUT.png")]
        confusion: Option<PathBuf>,
        #[cfg(feature = "measure")]
        #[command(flatten)]
        scene: emotune::cli::ThroughDetectorArgs,
        /// Only the first N images of the split (quick checks).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Apply this person's profile to every face.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
    /// People: neutral calibration, corrections and music language (stored as numbers only).
    Profile {
        #[command(subcommand)]
        action: ProfileCommand,
    },
    /// Playlist and tracks for an emotion (Spotify, cache or the offline catalog).
    Recommend {
        #[arg(long)]
        emotion: emotune::Emotion,
        #[arg(long, value_enum, default_value = "match")]
        strategy: emotune::music::Strategy,
        /// Where tracks may come from.
        #[arg(
            long = "source",
            value_enum,
            default_value = "auto",
            id = "music_source"
        )]
        music_source: emotune::music::SourcePreference,
        /// Skip the cache and ask Spotify for a new list.
        #[arg(long)]
        refresh: bool,
        #[arg(long)]
        json: bool,
    },
    /// Runs the real pipeline over frames without the UI and reports speed.
    Bench(BenchArgs),
    /// Sign in to Spotify, and save or play a mood's list in your account.
    Spotify {
        #[command(subcommand)]
        action: SpotifyCommand,
    },
    /// Your mood history, kept on this computer only: summary, export, forget.
    History(emotune::cli::history::HistoryArgs),
    /// Cameras that can be opened.
    Devices {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum SpotifyCommand {
    /// Sign in (Authorization Code with PKCE): prints the authorize URL, opens a browser when
    /// there is one, waits for it on RSPOTIFY_REDIRECT_URI (default http://127.0.0.1:8888/callback).
    Login {
        /// Only print the URL (open it on any machine that can reach this one's loopback).
        #[arg(long)]
        no_browser: bool,
        #[arg(long)]
        json: bool,
    },
    /// Forget the saved sign-in.
    Logout,
    /// Who is signed in.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Save the list for an emotion as a private playlist in your account.
    Save {
        #[arg(long)]
        emotion: emotune::Emotion,
        #[arg(long, value_enum, default_value = "match")]
        strategy: emotune::music::Strategy,
        #[arg(long)]
        json: bool,
    },
    /// Play the list for an emotion on your active Spotify device (Premium).
    Play {
        #[arg(long)]
        emotion: emotune::Emotion,
        #[arg(long, value_enum, default_value = "match")]
        strategy: emotune::music::Strategy,
        #[arg(long)]
        json: bool,
    },
    /// Your playlists (their URIs can go into mapping.toml).
    Playlists {
        #[arg(long)]
        json: bool,
    },
}

fn spotify(c: SpotifyCommand, env: &SpotifyEnv) -> anyhow::Result<i32> {
    use emotune::cli::spotify::{self, SpotifyAction};
    match c {
        SpotifyCommand::Login { no_browser, json } => {
            spotify::spotify_login(env, !no_browser, json)
        }
        SpotifyCommand::Logout => spotify::spotify_logout(env),
        SpotifyCommand::Status { json } => spotify::spotify_status(env, json),
        SpotifyCommand::Save {
            emotion,
            strategy,
            json,
        } => spotify::spotify_use(env, SpotifyAction::Save, emotion, strategy, json),
        SpotifyCommand::Play {
            emotion,
            strategy,
            json,
        } => spotify::spotify_use(env, SpotifyAction::Play, emotion, strategy, json),
        SpotifyCommand::Playlists { json } => spotify::spotify_playlists(env, json),
    }
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// A new profile.
    Create {
        name: String,
        /// Music language or region (any, hindi, telugu, spanish, k-pop, ...).
        #[arg(long)]
        language: Option<String>,
        /// Spotify market, a two-letter country code (IN, ES, KR, ...).
        #[arg(long)]
        market: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every profile; the active one is marked *.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A profile's calibration, corrections, music and adjustment (default: the active one).
    Show {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a profile's file.
    Delete {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Make a profile the one the window applies.
    Use {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Store the person's neutral reference from pictures of their relaxed face.
    Calibrate {
        /// Default: the active profile (created if it does not exist).
        name: Option<String>,
        #[arg(long = "neutral", value_name = "IMG", required = true)]
        neutral: Vec<PathBuf>,
        /// The pictures are already cropped faces.
        #[arg(long)]
        assume_face: bool,
        #[arg(long)]
        json: bool,
    },
    /// Music language or market of a profile.
    Set {
        name: Option<String>,
        #[arg(long)]
        language: Option<String>,
        #[arg(long)]
        market: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Forget the calibration and/or the corrections (neither flag: both).
    Reset {
        name: Option<String>,
        #[arg(long)]
        calibration: bool,
        #[arg(long)]
        corrections: bool,
        #[arg(long)]
        json: bool,
    },
    /// Calibration's worth on pictures of known people, leave-one-out:
    /// DIR/<person>/<emotion>/<image>; raw vs baseline subtraction vs emotune's calibration.
    Evaluate {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write the profile's numbers (reference, corrections), no images, as JSON.
    Export {
        name: Option<String>,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

fn profile(c: ProfileCommand, model: Option<&std::path::Path>) -> anyhow::Result<i32> {
    use emotune::cli::profile as p;
    match c {
        ProfileCommand::Create {
            name,
            language,
            market,
            json,
        } => p::create(&name, language.as_deref(), market.as_deref(), json),
        ProfileCommand::List { json } => p::list(json),
        ProfileCommand::Show { name, json } => p::show(name.as_deref(), model, json),
        ProfileCommand::Delete { name, json } => p::delete(&name, json),
        ProfileCommand::Use { name, json } => p::activate(&name, json),
        ProfileCommand::Calibrate {
            name,
            neutral,
            assume_face,
            json,
        } => p::calibrate(name.as_deref(), &neutral, model, assume_face, json),
        ProfileCommand::Set {
            name,
            language,
            market,
            json,
        } => p::set(
            name.as_deref(),
            language.as_deref(),
            market.as_deref(),
            json,
        ),
        ProfileCommand::Reset {
            name,
            calibration,
            corrections,
            json,
        } => p::reset(name.as_deref(), calibration, corrections, json),
        ProfileCommand::Evaluate { dir, json } => emotune::cli::people::evaluate(&dir, model, json),
        ProfileCommand::Export { name, out, json } => {
            p::export(name.as_deref(), out.as_deref(), json)
        }
    }
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The frames to run on: an image or a folder of images.
    #[arg(long, value_name = "PATH")]
    source: Option<SourceSpec>,
    /// Frames per set (default: 300 for one image, each folder's own length).
    #[arg(long)]
    frames: Option<usize>,
    /// libtorch threads for the classifier.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Pace the frames like a camera at this many per second (dropping late ones) and report
    /// CPU % of one core, latency, dropped frames and RSS; for --duration (default 20s).
    #[arg(long, value_name = "FPS", value_parser = emotune::capture::parse_fps)]
    rate: Option<f32>,
    /// With --rate: how long frames are paced. Without: soak instead, running the app's threads
    /// on the folder (replayed at --fps, default 30) for this long (90s, 30m, 1h), sampling
    /// RSS, threads and open files.
    #[arg(long, value_name = "TIME", value_parser = emotune::bench::parse_duration)]
    duration: Option<std::time::Duration>,
    /// Soak sampling interval.
    #[cfg(feature = "measure")]
    #[arg(long, value_name = "TIME", value_parser = emotune::bench::parse_duration, default_value = "10s")]
    sample_every: std::time::Duration,
    #[arg(long)]
    json: bool,
    /// The probability from which a BlazeFace face counts (default: the app's setting); 1
    /// leaves rustface alone, to compare.
    #[arg(long, value_name = "P", value_parser = emotune::cli::parse_unit_interval)]
    neural_score: Option<f32>,
    /// How much of the frame's color BlazeFace sees, 0 (gray) to 1 (default: the app's
    /// setting).
    #[arg(long, value_name = "S", value_parser = emotune::cli::parse_unit_interval)]
    neural_saturation: Option<f32>,
}

/// `bench`: speed per set, with `--rate` paced like a camera, or with `--duration` the soak.
#[cfg_attr(
    not(feature = "measure"),
    expect(unused_variables, reason = "fps paces the soak")
)]
fn bench(
    source: Option<&SourceSpec>,
    model: Option<&std::path::Path>,
    fps: Option<f32>,
    b: BenchArgs,
) -> anyhow::Result<()> {
    let Some(SourceSpec::Path(source)) = source else {
        anyhow::bail!("bench needs --source PATH (an image or a folder of frames)");
    };
    if let Some(rate) = b.rate {
        let duration = b.duration.unwrap_or(std::time::Duration::from_secs(20));
        return emotune::cli::bench_rate(source, model, b.threads, rate, duration, b.json);
    }
    match b.duration {
        #[cfg(feature = "measure")]
        Some(duration) => emotune::cli::soak(
            &emotune::soak::SoakOptions {
                source,
                model,
                duration,
                every: b.sample_every,
                fps: fps.unwrap_or(30.0),
                threads: b.threads,
            },
            b.json,
        ),
        #[cfg(not(feature = "measure"))]
        Some(_) => anyhow::bail!(
            "--duration without --rate is the soak, which this build leaves out (feature `measure`)"
        ),
        None => {
            let neural = emotune::cli::NeuralOverrides {
                score: b.neural_score,
                saturation: b.neural_saturation,
            };
            emotune::cli::bench(source, b.frames, model, b.threads, b.json, neural)
        }
    }
}

fn main() -> ExitCode {
    let dotenv_warning = emotune::config::load_dotenv();
    let cli = Cli::parse();
    // Started from a launcher, nobody reads stderr: the app also logs to a file.
    let launcher = cli.command.is_none() && !std::io::stderr().is_terminal();
    let log_warning = emotune::logging::init(launcher);
    let warnings: Vec<String> = dotenv_warning.into_iter().chain(log_warning).collect();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    // The environment is read here, once, after `.env`; the layers below are handed it.
    let spotify_env = SpotifyEnv::from_env();
    let result = match cli.command {
        None => emotune::ui::run(emotune::ui::AppOptions {
            spotify: spotify_env,
            warnings,
            source: cli.source,
            model: cli.model,
            screenshot: cli.screenshot,
            quit_after: cli.quit_after,
            resolution: cli.resolution,
            show_settings: cli.show_settings,
            show_history: cli.show_history,
            hide_feed: cli.hide_feed,
            fps: cli.fps,
            calibrate: cli.calibrate,
        })
        .map(|()| 0),
        Some(c) => dispatch(
            c,
            &spotify_env,
            cli.model.as_deref(),
            cli.source.as_ref(),
            cli.fps,
        ),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => fail(e),
    }
}

/// The subcommands; returns the exit code.
fn dispatch(
    c: Command,
    env: &SpotifyEnv,
    model: Option<&std::path::Path>,
    source: Option<&SourceSpec>,
    fps: Option<f32>,
) -> anyhow::Result<i32> {
    match c {
        Command::Classify {
            json,
            assume_face,
            profile,
            neutral_ref,
            images,
        } => emotune::cli::classify(
            &images,
            model,
            json,
            assume_face,
            emotune::cli::profile::Personal {
                profile: profile.as_deref(),
                neutral_refs: &neutral_ref,
            },
        ),
        Command::Profile { action } => profile(action, model),
        Command::Eval {
            data,
            split,
            labels,
            votes,
            json,
            confusion,
            #[cfg(feature = "measure")]
            scene,
            limit,
            profile,
        } => emotune::cli::eval(&emotune::cli::EvalOptions {
            data: &data,
            split,
            labels,
            votes: votes.as_deref(),
            model,
            json,
            confusion: confusion.as_deref(),
            #[cfg(feature = "measure")]
            scene,
            limit,
            personal: emotune::cli::profile::Personal {
                profile: profile.as_deref(),
                neutral_refs: &[],
            },
        })
        .map(|()| 0),
        Command::Bench(b) => {
            let source = b.source.clone().or_else(|| source.cloned());
            bench(source.as_ref(), model, fps, b).map(|()| 0)
        }
        Command::Recommend {
            emotion,
            strategy,
            music_source,
            refresh,
            json,
        } => emotune::cli::recommend(env, emotion, strategy, music_source, refresh, json),
        Command::Devices { json } => emotune::cli::devices(json).map(|()| 0),
        Command::Spotify { action } => spotify(action, env),
        Command::History(args) => emotune::cli::history::run(args),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}
