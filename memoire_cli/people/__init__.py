"""`memoire people`: every face of every image, matched to the enrolled people or clustered into unnamed ones."""
