from target_duckdb_omniload import main

main()
