"""What each section of the session screen shows, with its forms, and the whole screen
(``screen``); the views that answer the sections' requests are one level up."""
