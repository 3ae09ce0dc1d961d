"""External programs the tests check against (poppler, zbar), installed by .ci/run."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def tool(name: str) -> str:
    """The program's path; skipped locally when missing, a failure on CI (CI=true)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (see .ci/apt-packages.txt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
