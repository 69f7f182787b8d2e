import numpy as np

from training import neutral


def test_prototype_is_the_mean_centred_log_softmax_of_clearly_neutral_faces():
    logits = np.array([[0, 0, 0, 0, 4, 0, 0], [0, 0, 0, 0, 2, 0, 0], [5, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    shares = np.zeros((3, 7), dtype=np.float32)
    shares[0, neutral.NEUTRAL] = 0.9
    shares[1, neutral.NEUTRAL] = 0.7
    shares[2, neutral.NEUTRAL] = 0.2  # not clearly neutral: left out
    proto, n = neutral.prototype(logits, shares)
    assert n == 2
    assert abs(proto.sum()) < 1e-9
    # Centring removes the log-sum-exp: the mean centred logits of the two faces.
    assert np.allclose(proto[neutral.NEUTRAL], 3 - 3 / 7)
    assert np.argmax(proto) == neutral.NEUTRAL
