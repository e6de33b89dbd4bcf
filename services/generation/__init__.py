"""Generation jobs: planning and launching them, moving them through their states, and
the task bodies the arq worker runs."""
