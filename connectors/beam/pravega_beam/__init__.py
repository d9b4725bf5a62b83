"""Apache Beam IO for Pravega streams (ReadFromPravega / WriteToPravega)."""
