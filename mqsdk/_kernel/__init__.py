"""The kernel's internals: nothing here is public API.

Applications use the names at the top of :mod:`mqsdk` (and :mod:`mqsdk.asyncio`,
:mod:`mqsdk.auth`); plugins use :mod:`mqsdk.plugin`. Modules here may change in any
release.
"""

import logging

# Library logging: silent unless the application configures logging (the kernel's
# modules log under "mqsdk.").
logging.getLogger("mqsdk").addHandler(logging.NullHandler())
