"""The two tasks: labels (in logit order, English and Chinese, one line each), input and gate settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelSpec:
    id: str
    en: str
    zh: str
    description_en: str
    description_zh: str


@dataclass(frozen=True)
class TaskSpec:
    name: str  # the model name: "pneumonia" | "skin"
    family: str  # the synthetic generator: "chest" | "skin"
    task: str
    labels: tuple[LabelSpec, ...]
    channels: int
    size: int
    resize: str
    background: float
    gate_kind: str  # "radiograph" | "skin"
    refusal: str  # "not_a_radiograph" | "not_skin"
    description_en: str
    description_zh: str
    intended_use_en: str
    intended_use_zh: str
    out_of_scope_en: str
    out_of_scope_zh: str
    size_reason: str

    @property
    def label_ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.labels)


PNEUMONIA = TaskSpec(
    name="pneumonia",
    family="chest",
    task="chest-xray-pneumonia-type",
    labels=(
        LabelSpec("normal", "Normal", "正常", "No sign of pneumonia on the film.", "胸片未见肺炎征象。"),
        LabelSpec(
            "bacterial",
            "Bacterial pneumonia",
            "细菌性肺炎",
            "Pattern of bacterial pneumonia: a dense, well-bounded (lobar) consolidation.",
            "细菌性肺炎表现：密度高、边界较清楚的（肺叶性）实变影。",
        ),
        LabelSpec(
            "viral",
            "Viral pneumonia",
            "病毒性肺炎",
            "Pattern of viral pneumonia: diffuse, bilateral interstitial (net-like) markings.",
            "病毒性肺炎表现：双肺弥漫性间质性（网格状）改变。",
        ),
    ),
    channels=1,
    size=224,
    resize="letterbox",
    background=0.0,
    gate_kind="radiograph",
    refusal="not_a_radiograph",
    description_en="Frontal chest X-ray → normal / bacterial pneumonia / viral pneumonia (the three "
    "classes of Kermany et al. 2018), with a class activation heatmap.",
    description_zh="正位胸部X光片 → 正常 / 细菌性肺炎 / 病毒性肺炎"
    "（Kermany 等 2018 年数据集的三个类别），附类激活热力图。",
    intended_use_en="Decision support for reading a frontal (PA/AP) chest radiograph; never a diagnosis. "
    "A doctor must read the film.",
    intended_use_zh="用于辅助阅读正位（后前位/前后位）胸片，不能作为诊断。胸片须由医生判读。",
    out_of_scope_en="screening without a doctor; lateral films, CT, other diseases (tuberculosis, COVID-19, "
    "tumours); patients unlike the training population (Kermany's set is children aged 1-5).",
    out_of_scope_zh="无医生参与的筛查；侧位片、CT、其他疾病（结核、新冠、肿瘤）；与训练人群不同的患者"
    "（Kermany 数据集为 1-5 岁儿童）。",
    size_reason="224×224, 1 channel: radiographs are grayscale; letterbox keeps the chest's proportions "
    "(a squashed chest changes the heart and lung shapes); 224 is the size torchvision backbones expect.",
)

SKIN = TaskSpec(
    name="skin",
    family="skin",
    task="skin-lesion-8-class",
    labels=(
        LabelSpec(
            "lichen_planus",
            "Lichen planus",
            "扁平苔藓",
            "Violet, flat-topped, polygonal papules, often with fine white lines (Wickham striae).",
            "紫红色、顶部扁平的多角形丘疹，常见细白纹（Wickham 纹）。",
        ),
        LabelSpec(
            "lupus_erythematosus",
            "Lupus erythematosus",
            "红斑狼疮",
            "Red, scaly (discoid) plaques with a pale, scarred centre and a dark rim.",
            "红色鳞屑性（盘状）斑块，中央色淡、萎缩结疤，边缘色深。",
        ),
        LabelSpec(
            "basal_cell_carcinoma",
            "Basal cell carcinoma",
            "基底细胞癌",
            "A pearly, translucent nodule with a rolled border and small branching vessels.",
            "珍珠样半透明结节，边缘隆起呈卷边状，表面可见细小分支血管。",
        ),
        LabelSpec(
            "squamous_cell_carcinoma",
            "Squamous cell carcinoma",
            "鳞状细胞癌",
            "A firm, red, scaly or crusted nodule, sometimes ulcerated.",
            "质硬的红色结节，表面有鳞屑或结痂，有时破溃。",
        ),
        LabelSpec(
            "normal_skin",
            "Normal skin",
            "正常皮肤",
            "No lesion of the listed diseases.",
            "未见所列疾病的皮损。",
        ),
        LabelSpec(
            "pemphigus",
            "Pemphigus",
            "天疱疮",
            "Fragile blisters and raw erosions, some crusted.",
            "松弛易破的水疱及糜烂面，部分结痂。",
        ),
        LabelSpec(
            "psoriasis",
            "Psoriasis",
            "银屑病",
            "Well-demarcated salmon-red plaques with thick silvery-white scale.",
            "边界清楚的鲑红色斑块，上覆厚层银白色鳞屑。",
        ),
        LabelSpec(
            "seborrheic_keratosis",
            "Seborrheic keratosis",
            "脂溢性角化",
            "A brown, waxy, 'stuck-on' plaque with a ridged surface and small horn cysts.",
            "褐色、蜡样、似“贴”在皮肤上的斑块，表面有沟嵴及小角囊肿。",
        ),
    ),
    channels=3,
    size=224,
    resize="center_crop",
    background=0.0,
    gate_kind="skin",
    refusal="not_skin",
    description_en="Colour close-up photo of skin → one of 8 skin conditions (the AIMADS list), with a class "
    "activation heatmap.",
    description_zh="皮肤彩色近照 → 8 种皮肤病之一（AIMADS 列表），附类激活热力图。",
    intended_use_en="Decision support for a close-up photo of a skin lesion; never a diagnosis. "
    "A dermatologist must examine the skin.",
    intended_use_zh="用于辅助判断皮损近照，不能作为诊断。须由皮肤科医生检查。",
    out_of_scope_en="screening without a doctor; melanoma and every disease not in the label list (the "
    "model always answers one of its 8 labels); dermoscopy images; mucosa, nails and scalp.",
    out_of_scope_zh="无医生参与的筛查；黑色素瘤及标签列表以外的所有疾病（模型总会回答 8 个标签之一）；"
    "皮肤镜图像；黏膜、指甲和头皮。",
    size_reason="224×224, 3 channels, centre crop: colour carries much of the signal; a close-up fills the "
    "frame, so a centre crop wastes no pixels on padding. 224 (not Inception-v3's 299) keeps the network "
    "near a millisecond on one CPU thread, and is the size torchvision backbones expect.",
)

TASKS = {PNEUMONIA.name: PNEUMONIA, SKIN.name: SKIN}
