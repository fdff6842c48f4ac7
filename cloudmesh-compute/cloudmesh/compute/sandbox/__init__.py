"""The sandbox: a cloud of one's own on this machine, for learning and trying cms.

``cms sandbox start`` starts one detached background process (``serve.py``) that
outlives the ``cms`` that started it and holds:

- moto's EC2 server on 127.0.0.1 (a port the OS picks), with the cloud entry
  ``sandbox`` written into cloudmesh.yaml (``cm: {kind: aws, sandbox: true}``) whose
  ``default:`` block names an image, a flavor, a username and the SSH server below, so
  ``cms vm boot --cloud=sandbox --key=K --wait`` needs nothing else;
- an SSH server on 127.0.0.1 that plays every booted VM (moto runs no VMs). It trusts a
  key once a boot uploaded it to moto and it is one of the user's own ``cms key list``
  keys (so another user of the machine cannot log in by uploading a key to moto).
  Commands run as the user who started the sandbox, on this machine.

and, where Multipass is not installed, a Multipass stand-in
(:mod:`cloudmesh.compute.testing.fake_multipass`, no VM runs) as the cloud ``multipass``
(``sandbox-multipass`` when that name is taken).

Its files live in ``CONFIG_DIR/sandbox/`` (0700; pid, ports and logs 0600);
``cms sandbox stop`` ends the process and removes them and the entries it wrote; cloud
entries without ``cm.sandbox: true`` are never touched. See ``control`` for the logic.
"""
