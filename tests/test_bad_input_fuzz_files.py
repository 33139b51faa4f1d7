"""Property, for every file parser a user feeds (``fuzz_targets.TARGETS``): whatever the file holds -- random
bytes, the valid file cut short, byte edits, numbers swapped for NaN/inf/huge/empty, lines swapped, and for
weights tensors of the wrong shape or dtype -- it parses, or it raises an :class:`OFAError`; nothing else.

A fixed seed corpus (derandomized, ``OFA_FUZZ_EXAMPLES`` examples per target, 60 by default); the long run is
``bench/fuzz.py``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz_targets import TARGETS, TENSOR_TARGETS, mutations, run_case, sample, tensor_swaps
from ofa.errors import OFAError

EXAMPLES = int(os.environ.get("OFA_FUZZ_EXAMPLES", "60"))
SETTINGS = settings(derandomize=True, max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def _parses_or_ofa_error(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as work:
        try:
            run_case(name, data, Path(work))
        except OFAError:
            pass  # any other exception fails the test, with hypothesis's minimal example


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_unmutated_sample_parses(name, tmp_path):
    run_case(name, sample(name), tmp_path)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutated_files_parse_or_raise_an_ofa_error(name):
    @SETTINGS
    @given(data=mutations(sample(name)))
    def check(data):
        _parses_or_ofa_error(name, data)

    check()


@pytest.mark.parametrize("name", sorted(TENSOR_TARGETS))
def test_tensors_of_another_shape_dtype_or_name_parse_or_raise_an_ofa_error(name):
    @SETTINGS
    @given(data=tensor_swaps(name))
    def check(data):
        _parses_or_ofa_error(name, data)

    check()
