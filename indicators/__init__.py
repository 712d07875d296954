"""Official indicator datasets (deprivation, benefits, fuel poverty...), their importers, aggregation up the
geography, and area profiles that set community themes beside them."""
