"""emotune's emotion model: ResNet18 + CBAM on FER-2013, exported as TorchScript for tch."""
