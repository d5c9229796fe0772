"""What the course notebooks import, and nothing else: setup (the first cell: seeds, device, fast
mode, threads, presentation), demos (the computations behind each demo), figures (the plots),
dashboards (the interactive widgets), exercises (the checkers of the students' functions).
"""
