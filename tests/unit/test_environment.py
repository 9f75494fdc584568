"""What a job exports for itself is put back when it ends, even when it fails (a notebook goes on)."""

import os

import pytest

from kubetune.components.core import environment_put_back


def test_variables_set_removed_or_changed_in_the_block_are_put_back_even_on_error(monkeypatch):
    monkeypatch.setenv("KT_TEST_KEPT", "before")
    monkeypatch.delenv("KT_TEST_NEW", raising=False)
    with pytest.raises(RuntimeError), environment_put_back(("KT_TEST_KEPT", "KT_TEST_NEW")):
        os.environ["KT_TEST_NEW"] = "during"
        del os.environ["KT_TEST_KEPT"]
        os.environ["KT_TEST_OTHER"] = "not listed"
        raise RuntimeError("the job failed")
    assert os.environ["KT_TEST_KEPT"] == "before" and "KT_TEST_NEW" not in os.environ
    assert os.environ.pop("KT_TEST_OTHER") == "not listed"  # only the names given are its business
