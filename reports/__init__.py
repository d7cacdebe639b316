"""Reports for the people who run a town: printed or mailed documents built from the processed data."""
