"""The ``adalens`` command: the whole adalens command line and window, from the wheel."""

import sys


def main() -> None:
    from adalens import _native

    sys.exit(_native.main(["adalens", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
