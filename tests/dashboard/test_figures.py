"""The dashboard's arrangement of the reports: heat-map shades."""

from __future__ import annotations

from nurture.dashboard.figures import HEAT_LEVELS, heat_levels


def test_heat_shades_run_from_none_to_the_busiest_hour() -> None:
    grid = [[0] * 24 for _ in range(7)]
    grid[0][9], grid[2][15], grid[6][23] = 1, 10, 5
    shades = heat_levels(grid)
    assert shades[2][15] == HEAT_LEVELS - 1 and shades[6][23] == 2 and shades[0][9] == 1
    assert sum(map(sum, shades)) == HEAT_LEVELS - 1 + 2 + 1  # every other hour: 0
    assert heat_levels([[0, 0]]) == [[0, 0]]
