"""Data lifetime (promise 6): the data classes every personal field and artefact belongs to, each with a
retention period (`classes`), and what happens to a class's data when that period is over."""
