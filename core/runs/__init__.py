"""Running modules over sources: the headless `--print` run, and the viewer's rows and background passes."""
