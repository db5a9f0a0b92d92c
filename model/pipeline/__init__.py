"""The model pipeline (torch; never imported at serving time): data → train → evaluate → calibrate →
input gate → ONNX package. ``python -m model.pipeline demo|train`` (see ``__main__``).

- ``synthetic``, ``nontarget``: seeded image generators (chest films, skin close-ups, other images)
- ``data``: the Kermany and class-per-folder readers, MD5 de-duplication, splits by patient
- ``sources``: images as seeded jobs, encoded with the serving preprocessing (``xiaofei.imaging.image_io``)
- ``nets``: the small demo backbone and torchvision backbones; ``load_torch_model(package_dir)``
- ``train``, ``evaluate``, ``calibrate``, ``gate``: the steps; ``export``, ``card``: the package files
- ``build``: one package from one source; ``demo``: the two bundled packages
"""
