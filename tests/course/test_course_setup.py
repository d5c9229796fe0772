"""The first cell of every notebook (flosslab.course.setup)."""
import pytest

# The flossing dashboards of notebook 04 are tested in tests/test_course_03_04_07.py.


# The dashboards of notebooks 05, 06 and 08 are tested in tests/test_course_05_06_08.py.



def test_device_helper_reports_cpu_without_gpu():
    torch = pytest.importorskip("torch")
    from flosslab.course.setup import available_device
    assert available_device() == ("cuda" if torch.cuda.is_available() else "cpu")
