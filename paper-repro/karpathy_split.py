#!/usr/bin/env python3
"""Write one split of a Karpathy dataset file (dataset_coco.json / dataset_flickr30k.json) as
the inputs the paper-repro scripts take: IMAGES.txt (one image path per line, relative to the
list's folder or absolute) and a COCO-captions JSON (images with file_name, annotations).
Image ids are Karpathy's `cocoid` (COCO) or `imgid`; the list's file stems must be these ids
for recap's self-exclusion and reference matching, so the images are symlinked as ID.jpg.

usage: karpathy_split.py dataset_coco.json IMAGE_ROOT SPLIT OUT_DIR
  SPLIT: train (train + restval, as ReCap and SmallCap use it), val or test
  IMAGE_ROOT: the folder holding Karpathy's `filepath/filename` (e.g. COCO's train2014/, val2014/)
"""
import json
import os
import sys


def main(dataset, root, split, out):
    data = json.load(open(dataset))
    wanted = {"train": {"train", "restval"}}.get(split, {split})
    links = os.path.join(out, "images")
    os.makedirs(links, exist_ok=True)
    images, annotations, lines = [], [], []
    for img in data["images"]:
        if img["split"] not in wanted:
            continue
        iid = img.get("cocoid", img.get("imgid"))
        src = os.path.join(root, img.get("filepath", ""), img["filename"])
        dst = os.path.join(links, f"{iid}.jpg")
        if not os.path.lexists(dst):
            os.symlink(os.path.abspath(src), dst)
        lines.append(os.path.abspath(dst))
        images.append({"id": iid, "file_name": f"{iid}.jpg"})
        for s in img["sentences"]:
            annotations.append({"id": s["sentid"], "image_id": iid, "caption": s["raw"]})
    with open(os.path.join(out, "images.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "captions.json"), "w") as f:
        json.dump({"images": images, "annotations": annotations}, f)
    print(f"{split}: {len(images)} images, {len(annotations)} captions -> {out}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
