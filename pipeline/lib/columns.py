"""One set of column names, used by every artifact and function."""

USER = "user"  # contiguous 0-based int32 index
ITEM = "item"  # contiguous 0-based int32 index
RATING = "rating"  # float32 on the dataset's scale
TIMESTAMP = "timestamp"  # int64 seconds since the epoch
PREDICTION = "prediction"  # float32, clipped to the dataset's scale

USER_ID = "user_id"  # original MovieLens id
ITEM_ID = "item_id"  # original MovieLens id
TITLE = "title"
YEAR = "year"
GENRES = "genres"  # '|'-joined, for people; the multi-hot columns are for models
GENRE_PREFIX = "genre_"
AFFINITY_PREFIX = "affinity_"

GENDER = "gender"
AGE = "age"
OCCUPATION = "occupation"
ZIP = "zip"

PARTS = ("train", "val", "test")
