from place.cli import main

raise SystemExit(main())
