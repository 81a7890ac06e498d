"""envfix: make an old ML paper's code run on today's Google Colab."""
