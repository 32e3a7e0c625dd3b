"""NightPOS benchmarks (``make bench``; ``python -m bench --help``). See bench/__main__.py."""
