"""Raw sources -> clean records -> extracted entities -> graph writes through `kg`."""
