"""``python -m mqsdk``: the same as the ``mqsdk`` command."""

from mqsdk.cli import main

raise SystemExit(main())
