import sys

from hedgemesh.cli import main

sys.exit(main())
