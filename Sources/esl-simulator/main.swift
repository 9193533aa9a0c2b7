print("esl-simulator: being written")
