"""`python -m switchboard` is the `switchboard` command."""

import sys

from switchboard.launch import main

sys.exit(main())
