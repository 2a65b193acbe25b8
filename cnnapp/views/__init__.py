"""The tabs of the main window: Draw, Build, Train, Backprop."""
