import sys

from pageladder.cli import main

sys.exit(main())
