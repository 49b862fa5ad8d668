"""``python -m benchmarks.generate N OUT``: the day generator, which lives in
:mod:`settlement.sampleday` so that the installed ``wmc demo`` can use it too."""

from settlement.sampleday import GeneratedFiles, generate, main

__all__ = ["GeneratedFiles", "generate", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
