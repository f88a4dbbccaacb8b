from chatkit.cli import main

raise SystemExit(main())
