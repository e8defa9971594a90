import BLASCore
print("clipcv")
