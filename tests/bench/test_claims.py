import pytest

from bench.claims import RunClaimedError, claim


def test_a_run_claimed_by_another_process_is_refused_until_that_process_ends(tmp_path, claimed_elsewhere):
    run_dir = tmp_path / "runs" / "r0.1" / "a-seed0"
    with claimed_elsewhere(run_dir) as holder:
        with pytest.raises(RunClaimedError, match=f"a-seed0 is being trained by another process \\(pid {holder.pid}\\)"):
            with claim(run_dir):
                pass
    with claim(run_dir):  # its process was killed: the claim went with it
        with pytest.raises(RunClaimedError):  # and is this process's now, against any other holder
            with claim(run_dir):
                pass


def test_a_claim_ends_with_its_block(tmp_path):
    run_dir = tmp_path / "a-seed0"
    with claim(run_dir):
        assert not run_dir.exists()  # kl-phase refuses an OUTPUT that exists
    with claim(run_dir):
        pass
