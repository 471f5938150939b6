"""Suite-wide pytest configuration: one marker per lesson so ``pytest -m lesson12`` runs one lesson."""


def pytest_configure(config):
    for number in range(1, 23):
        config.addinivalue_line("markers", f"lesson{number:02d}: tests of lesson {number:02d}")
