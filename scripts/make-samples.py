#!/usr/bin/env python3
"""Generate the binary sample documents of Samples/logistics/ (PDF, scanned PDF, DOCX, PPTX, XLSX).

All content is fictional (see Samples/ABOUT.md) and consistent with the text documents of the
sample knowledge base. The files are committed; this script documents how they were made and
can re-create them:

    pip install reportlab python-docx python-pptx openpyxl Pillow
    python3 scripts/make-samples.py            # writes into Samples/logistics/
    python3 scripts/make-samples.py --verify   # checks the eval.jsonl gold strings against the
                                               # extracted text (needs poppler-utils, tesseract chi_sim)

Output is deterministic: fixed metadata dates, reportlab's invariant mode, fixed ZIP entry
timestamps for the Office files, and a seeded random generator for the scan's background.

Files:
  services/大客户合同服务标准.pdf              3 pages, text PDF (reportlab, CID font STSong-Light),
                                              running header and footer, two grid tables
  notices/扫描件-春节网点营业安排.pdf          1 page, image only (no text layer), for OCR
  services/仓储服务说明.docx                  Heading 1/2, paragraphs, bulleted list, table
  services/2026企业客户服务介绍.pptx           7 slides, speaker notes, one table slide
  services/网点营业时间表.xlsx                 2 sheets, 18 data rows each, dates, #,##0.00, percent
"""

import datetime
import io
import os
import random
import re
import sys
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Samples", "logistics")
FIXED = datetime.datetime(2026, 3, 2, 9, 0, 0)
FIXED_ZIP = (2026, 3, 2, 9, 0, 0)
AUTHOR = "迅达快运 SwiftArrow Express"
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_FONT_BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"


def out(rel):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def normalize_zip(path):
    """Rewrites an Office file with fixed entry timestamps and fixed docProps dates."""
    with zipfile.ZipFile(path) as z:
        entries = [(i, z.read(i.filename)) for i in z.infolist()]
    stamp = FIXED.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w") as z:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            z.writestr(zi, data)


# ---------------------------------------------------------------------------------------------
# 1. PDF with tables: 大客户合同服务标准（2026 版）
# ---------------------------------------------------------------------------------------------

def make_contract_pdf():
    from reportlab import rl_config
    rl_config.invariant = 1
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    F = "STSong-Light"
    title = ParagraphStyle("t", fontName=F, fontSize=20, leading=28, alignment=TA_CENTER, spaceAfter=4)
    sub = ParagraphStyle("s", fontName=F, fontSize=10.5, leading=16, alignment=TA_CENTER, spaceAfter=10,
                         textColor=colors.HexColor("#444444"))
    h1 = ParagraphStyle("h1", fontName=F, fontSize=14, leading=22, spaceBefore=10, spaceAfter=4,
                        textColor=colors.HexColor("#0b4f8a"))
    body = ParagraphStyle("b", fontName=F, fontSize=10.5, leading=17, spaceAfter=5, wordWrap="CJK")
    bullet = ParagraphStyle("bl", parent=body, leftIndent=14, bulletIndent=2)
    cell = ParagraphStyle("c", fontName=F, fontSize=9.5, leading=13, wordWrap="CJK")
    head = ParagraphStyle("ch", parent=cell, textColor=colors.white)
    caption = ParagraphStyle("cap", fontName=F, fontSize=10, leading=15, alignment=TA_CENTER, spaceBefore=4,
                             spaceAfter=4)

    def grid(rows, widths):
        data = [[Paragraph(c, head if r == 0 else cell) for c in row] for r, row in enumerate(rows)]
        t = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.6, colors.HexColor("#555555")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#0b4f8a")),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f1f5f9")]),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ]))
        return t

    def story():
        s = [
            Paragraph("大客户合同服务标准（2026 版）", title),
            Paragraph("适用对象：与迅达快运签订年度服务合同的企业月结客户　　生效日期：2026 年 1 月 1 日", sub),
            Paragraph(
                "本标准适用于与迅达快运签订年度服务合同的企业客户（以下简称“合同客户”）。合同客户须先开通企业月结账户"
                "（月结账号为 YJ 加 8 位数字），本标准中的各项承诺是在《会员与企业月结》所列月结权益基础上的补充，"
                "执行期为 2026 年 1 月 1 日至 2026 年 12 月 31 日。合同条款与本标准不一致的，以双方签署的合同为准。", body),
            Paragraph("一、合同客户的认定", h1),
            Paragraph("开通企业月结账户满 3 个月，且近 3 个月月均运费不低于 30,000 元的企业，可向专属客户经理申请签订年度服务合同。", bullet, bulletText="•"),
            Paragraph("合同期一般为 12 个月。合同到期前 30 天双方均未提出书面异议的，合同自动续约 12 个月。", bullet, bulletText="•"),
            Paragraph("合同客户等级按上一季度的月均运费每季度评定一次，评定结果于每季度首月 10 日前以邮件通知客户。", bullet, bulletText="•"),
            Paragraph("二、客户等级与运费折扣", h1),
            Paragraph(
                "合同客户分为银牌、金牌、铂金三个等级。合同折扣仅适用于国内快递的基础运费，燃油附加费（目前为基础运费的 8%）、"
                "偏远地区附加费（15 元/票）、保价费和代收货款手续费均按标准收取，不打折。", body),
            Paragraph("表 1　合同客户等级", caption),
            grid([
                ["客户等级", "近 3 个月月均运费", "基础运费折扣", "客户经理响应"],
                ["合同银牌", "3 万元至 10 万元", "9 折", "2 小时内"],
                ["合同金牌", "10 万元至 50 万元", "85 折", "1 小时内"],
                ["合同铂金", "50 万元以上", "8 折", "30 分钟内"],
            ], [34, 46, 40, 40]),
            Spacer(1, 6),
            Paragraph(
                "重货优惠：单票计费重量 20kg 及以上的经济件（SVC-EC-01），续重单价在合同折扣的基础上每公斤再减 1 元。"
                "价格锁定：合同期内基础运费不随公司年度调价而变化，燃油附加费仍按每季度公布的费率执行。", body),
            Paragraph("三、服务质量承诺", h1),
            Paragraph(
                "下表列出合同客户与普通月结客户在主要服务环节上的承诺差异。“未达标补偿”以运费券或账单减免的形式"
                "计入次月账单，每月补偿总额不超过当月运费的 10%。", body),
            Paragraph("表 2　服务质量承诺与补偿", caption),
            grid([
                ["序号", "服务项目", "普通月结客户", "合同客户", "未达标补偿"],
                ["1", "上门揽收响应", "下单后 2 小时内", "下单后 60 分钟内", "每次 20 元运费券"],
                ["2", "首条物流轨迹", "揽收后 2 小时内", "揽收后 1 小时内", "无"],
                ["3", "标准快递月度准时率", "不承诺", "不低于 97%", "每低 1 个百分点减免当月运费 0.5%"],
                ["4", "投诉首次响应", "受理后 4 小时内", "受理后 1 小时内", "无"],
                ["5", "理赔定损", "材料齐全后 3 个工作日", "材料齐全后 2 个工作日", "无"],
                ["6", "赔付到账", "确认后 7 个工作日", "确认后 3 个工作日", "无"],
                ["7", "代收货款结算", "可申请 T+1", "T+1，可申请 T+0", "无"],
                ["8", "月度服务报告", "不提供", "次月 8 日前发送", "无"],
            ], [12, 36, 38, 38, 46]),
            Spacer(1, 6),
            Paragraph(
                "不可抗力（台风、暴雪、洪水、航班大面积取消等）以及节假日公告中声明的时效延长期间，不计入准时率考核，"
                "也不适用上表中的补偿。", body),
            Paragraph("四、专属服务", h1),
            Paragraph("专属客户经理：工作日 9:00–18:00 在岗。非工作时间请拨打 400-820-5566 按 2，输入月结账号后可转接大客户值班组，值班组 7×24 小时受理。", bullet, bulletText="•"),
            Paragraph("驻场专员：合同铂金客户日均寄件 1,000 票以上的，可申请派驻场专员在客户仓库或办公地点协助打单、揽收和异常处理。", bullet, bulletText="•"),
            Paragraph("业务回顾：客户经理每季度与合同客户召开一次业务回顾会，内容包括时效、破损、投诉数据和下季度发货计划。", bullet, bulletText="•"),
            Paragraph("系统对接：合同客户的开放平台接口调用上限可由每秒 50 次提升至每秒 200 次。", bullet, bulletText="•"),
            Paragraph("五、账单与结算", h1),
            Paragraph(
                "合同客户的账期与企业月结账户一致：每月 5 日出具上月账单，请在每月 20 日前付清。对账单有异议的，"
                "请在收到账单后 10 日内通过企业服务平台提交，客户经理在 5 个工作日内答复；异议处理期间，无争议部分仍须按时支付。", body),
            Paragraph("六、合同变更与终止", h1),
            Paragraph("任何一方可提前 30 天书面通知对方解除合同。", bullet, bulletText="•"),
            Paragraph("连续 2 个月逾期付款的，迅达快运有权终止合同，并暂停月结寄件功能，结清后 1 个工作日内恢复。", bullet, bulletText="•"),
            Paragraph("合同终止后，账户恢复为普通企业月结账户，已享受的合同折扣不予追溯。", bullet, bulletText="•"),
            Paragraph("七、常见问题", h1),
            Paragraph("问：合同期内月均运费下降到 3 万元以下，合同还有效吗？", body),
            Paragraph(
                "答：合同继续有效，但下一季度的等级评定将不再享受合同银牌折扣，改按普通月结价格结算；"
                "连续两个季度月均运费低于 3 万元的，迅达快运可提前 30 天通知终止合同。", body),
            Paragraph("问：集团下属多家公司能否合并计算运费、共享一个合同等级？", body),
            Paragraph(
                "答：可以。同一集团内持股 51% 以上的子公司，可提交股权证明申请合并计算月均运费，各公司仍使用各自的月结账号，"
                "由集团主账户统一签订合同。", body),
            Paragraph("问：合同客户的快件丢了，能否先拿到一部分赔款？", body),
            Paragraph(
                "答：可以申请理赔预付。遗失认定后、定损完成前，合同金牌和铂金客户可申请先行预付预估赔款的 50%，"
                "定损完成后多退少补。赔偿标准本身仍按《理赔与赔偿标准》执行，未保价快件最高不超过运费的 5 倍。", body),
            Paragraph("问：合同价格适用于国际快件吗？", body),
            Paragraph(
                "答：不适用。合同折扣仅适用于国内快递产品（特快、次日达、标准快递、经济件）；冷链和国际快件的价格需单独签订补充协议。", body),
            Paragraph("八、联系方式", h1),
            Paragraph(
                "申请签订合同或咨询合同条款，请联系您的专属客户经理，或拨打全国客服热线 400-820-5566 按 2 转商家服务专席，"
                "也可发送邮件至 ka@swiftarrow-express.example。", body),
        ]
        return s

    header_text = "迅达快运 SwiftArrow Express　|　大客户合同服务标准（2026 版）"

    def build(path, total):
        def decorate(canvas, doc):
            w, h = A4
            canvas.saveState()
            canvas.setFont(F, 9)
            canvas.setFillColor(colors.HexColor("#555555"))
            canvas.drawString(20 * mm, h - 13 * mm, header_text)
            canvas.drawRightString(w - 20 * mm, h - 13 * mm, "文件编号 KA-SLA-2026")
            canvas.setStrokeColor(colors.HexColor("#0b4f8a"))
            canvas.setLineWidth(0.8)
            canvas.line(20 * mm, h - 15 * mm, w - 20 * mm, h - 15 * mm)
            canvas.line(20 * mm, 16 * mm, w - 20 * mm, 16 * mm)
            canvas.drawString(20 * mm, 11 * mm, "客服热线 400-820-5566　内部资料，未经许可不得转载")
            canvas.drawRightString(w - 20 * mm, 11 * mm, "第 %d 页 / 共 %d 页" % (doc.page, total))
            canvas.restoreState()

        doc = SimpleDocTemplate(path, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                                topMargin=22 * mm, bottomMargin=22 * mm,
                                title="大客户合同服务标准（2026 版）", author=AUTHOR,
                                subject="合同客户服务标准", creator="scripts/make-samples.py")
        doc.build(story(), onFirstPage=decorate, onLaterPages=decorate)
        return doc.page

    path = out("services/大客户合同服务标准.pdf")
    pages = build(path, 0)
    build(path, pages)
    return path, pages


# ---------------------------------------------------------------------------------------------
# 2. Scanned notice: image-only PDF
# ---------------------------------------------------------------------------------------------

SCAN_TITLE = "关于2026年春节期间自营网点营业安排的通知"
SCAN_LINES = [
    "尊敬的客户：",
    "　　2026年春节（2月17日为农历正月初一）即将到来。为保障一线员工节日休息，同时尽量满足节日期间的寄件需求，迅达快运全国自营网点春节期间营业安排如下：",
    "　　一、2月16日（除夕）至2月18日（正月初二），全国自营网点闭店三天，暂停柜台寄件和取件业务。",
    "　　二、2月15日及2月19日至2月21日，自营网点营业时间调整为每天10:00至16:00。",
    "　　三、2月22日起，自营网点恢复正常营业时间。",
    "　　四、网点闭店期间，特快和标准快递仍可通过App预约上门取件，2月15日至2月21日上门取件服务时间为10:00至16:00。",
    "　　五、2月14日至2月22日期间揽收的特快、标准快递，收取春节节日服务费5元/票。",
    "　　六、存放在自营网点的待取快件，闭店期间不计算保管天数，不收取保管费。",
    "　　七、2月13日前到自营网点寄送年货的客户，每票可免费领取一个年货专用加固纸箱，送完即止。",
    "　　经济件、次日达和冷链服务的暂停安排，请查阅《2026年春节期间服务安排》公告。如有疑问，请拨打客服热线400-820-5566。",
    "　　特此通知。",
]
SCAN_SIGN = ["迅达快运客户服务中心", "2026年1月25日"]


def make_scan_pdf():
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    dpi = 200
    W, H = 1654, 2339  # A4 at 200 dpi
    rng = random.Random(20260125)
    # Slightly grey, uneven paper.
    img = Image.new("L", (W, H), 244)
    px = img.load()
    for _ in range(1800):
        x, y = rng.randrange(W), rng.randrange(H)
        px[x, y] = rng.randrange(200, 235)
    grad = Image.linear_gradient("L").resize((W, H)).point(lambda v: 255 - v // 28)
    img = Image.blend(img, grad.point(lambda v: min(v, 250)), 0.25)
    d = ImageDraw.Draw(img)
    fb = ImageFont.truetype(CJK_FONT_BOLD, 46, index=2)   # index 2: SC (Simplified Chinese)
    fr = ImageFont.truetype(CJK_FONT, 34, index=2)
    margin = 150
    y = 210
    tw = d.textlength(SCAN_TITLE, font=fb)
    d.text(((W - tw) / 2, y), SCAN_TITLE, font=fb, fill=20)
    y += 120
    line_h = 62
    for para in SCAN_LINES:
        line = ""
        for ch in para:
            if d.textlength(line + ch, font=fr) > W - 2 * margin:
                d.text((margin, y), line, font=fr, fill=25)
                y += line_h
                line = ""
            line += ch
        if line:
            d.text((margin, y), line, font=fr, fill=25)
            y += line_h
        y += 10
    y += 60
    for s in SCAN_SIGN:
        sw = d.textlength(s, font=fr)
        d.text((W - margin - sw, y), s, font=fr, fill=25)
        y += line_h
    # Faint stamp ring (outside the text lines, light grey).
    cx, cy, r = W - margin - 190, y - 110, 120
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=175, width=5)
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    img = img.rotate(0.4, resample=Image.BICUBIC, fillcolor=244)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=60, optimize=True)
    jpg = Image.open(io.BytesIO(buf.getvalue()))
    path = out("notices/扫描件-春节网点营业安排.pdf")
    jpg.save(path, "PDF", resolution=float(dpi), title="扫描件-春节网点营业安排", author=AUTHOR,
             creator="scripts/make-samples.py", producer="scripts/make-samples.py",
             creationDate=FIXED.timetuple(), modDate=FIXED.timetuple())
    return path


# ---------------------------------------------------------------------------------------------
# 3. DOCX: 仓储服务说明
# ---------------------------------------------------------------------------------------------

def make_docx():
    import docx
    from docx.oxml.ns import qn
    from docx.shared import Pt

    d = docx.Document()
    for name in ("Normal", "Heading 1", "Heading 2", "Title"):
        st = d.styles[name]
        st.font.name = "Noto Sans CJK SC"
        st.element.rPr.rFonts.set(qn("w:eastAsia"), "Noto Sans CJK SC")
    d.styles["Normal"].font.size = Pt(10.5)

    d.add_heading("仓储服务说明（迅达云仓 SVC-WH-01）", level=1)
    d.add_paragraph(
        "迅达云仓为电商商家和企业客户提供“仓储 + 配送”一体化服务：商品预先存放在迅达快运的仓库，买家下单后由仓库直接"
        "拣货、打包，并以迅达快运的快递产品发出。迅达云仓仅向已开通企业月结账户的客户提供，仓储费用与运费一并计入月结账单。")

    d.add_heading("一、仓库网络", level=2)
    d.add_paragraph(
        "迅达云仓目前在上海青浦、广州白云、北京大兴、成都双流、武汉东西湖 5 个城市设有仓库，总面积约 12 万平方米。"
        "各仓均设常温区；上海青浦仓和广州白云仓另设 2℃–8℃ 冷藏区，冷藏商品出库后统一以冷链冷藏（SVC-CC-02）发出。")

    d.add_heading("二、入库要求", level=2)
    for t in [
        "入库前至少 1 个工作日在企业服务平台提交入库预约单，写明商品 SKU、数量和箱数；",
        "每个 SKU 须有条码（EAN-13 或迅达云仓自编码），没有条码的商品可由仓库代贴；",
        "送货车辆须按预约时段到仓，仓库收货时间为每天 8:00–17:00；",
        "单件商品重量不超过 50kg，禁寄物品、危险品和活体不得入库，规则同《禁运品与限运品》；",
        "到货后 24 小时内完成清点和上架，上架完成后库存即可在企业服务平台查询。",
    ]:
        d.add_paragraph(t, style="List Bullet")

    d.add_heading("三、收费标准", level=2)
    d.add_paragraph("以下为迅达云仓的标准价格，合同客户以合同约定为准。快递运费另按月结价格计算。")
    rows = [
        ("收费项目", "计费单位", "价格", "说明"),
        ("仓储费（常温）", "每立方米每天", "1.50 元", "按每日实际库存体积计算"),
        ("仓储费（冷藏）", "每立方米每天", "4.00 元", "仅上海青浦仓、广州白云仓"),
        ("入库操作费", "每箱", "1.00 元", "含卸货、清点、上架"),
        ("订单操作费", "每单", "1.20 元", "含 1 件商品的拣货和打包"),
        ("多件加收", "每件", "0.30 元", "同一订单第 2 件起"),
        ("退货入库处理", "每件", "1.50 元", "含质检和重新上架"),
        ("条码代贴", "每件", "0.10 元", "仅无条码商品"),
    ]
    t = d.add_table(rows=len(rows), cols=4)
    t.style = "Table Grid"
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            t.cell(r, c).text = v
            if r == 0:
                t.cell(r, c).paragraphs[0].runs[0].bold = True
    d.add_paragraph("包装材料按实际使用量收费，价格与《包装规范》中的网点价格相同。")

    d.add_heading("四、出库与配送时效", level=2)
    d.add_paragraph(
        "每天 16:00 前生成的订单当日出库，16:00 以后生成的订单次日出库。出库后的快件时效与所选快递产品相同。"
        "迅达云仓承诺订单出库准确率不低于 99.95%；因仓库原因错发、漏发的，由仓库承担重新发货的运费，并按商品成本价赔偿。")

    d.add_heading("五、库存管理", level=2)
    d.add_paragraph(
        "仓库每月末进行一次全面盘点，库存准确率不低于 99.9%，盘点报告在次月 3 日前发送给客户。"
        "商品入库超过 180 天仍未售出的，从第 181 天起仓储费加收 50%，客户可在企业服务平台申请调拨或清仓出库。")

    d.add_heading("六、合作期限与结算", level=2)
    d.add_paragraph(
        "迅达云仓最短合作期为 3 个月。仓储费和操作费并入企业月结账单，每月 5 日出具上月账单，请在每月 20 日前付清。"
        "终止合作须提前 30 天书面通知，清仓出库按入库操作费标准（每箱 1.00 元）收取。")

    d.add_heading("七、2026 年春节安排", level=2)
    d.add_paragraph(
        "2026 年春节期间，迅达云仓 2 月 12 日 17:00 以后停止入库，2 月 14 日至 2 月 21 日暂停订单出库，2 月 22 日恢复正常作业。"
        "如需了解仓位和报价，请拨打 400-820-5566 按 2 转商家服务专席，或联系您的专属客户经理。")

    cp = d.core_properties
    cp.title = "仓储服务说明"
    cp.author = AUTHOR
    cp.last_modified_by = AUTHOR
    cp.created = FIXED
    cp.modified = FIXED
    cp.last_printed = FIXED
    cp.revision = 1
    path = out("services/仓储服务说明.docx")
    d.save(path)
    normalize_zip(path)
    return path


# ---------------------------------------------------------------------------------------------
# 4. PPTX: 2026 企业客户服务介绍
# ---------------------------------------------------------------------------------------------

def make_pptx():
    from pptx import Presentation
    from pptx.util import Inches, Pt

    p = Presentation()
    p.slide_width, p.slide_height = Inches(13.333), Inches(7.5)
    title_layout, content_layout, title_only = p.slide_layouts[0], p.slide_layouts[1], p.slide_layouts[5]

    def fit(slide):
        slide.shapes.title.left, slide.shapes.title.width = Inches(0.6), Inches(12.1)

    def bullets(title, items, notes=None):
        s = p.slides.add_slide(content_layout)
        fit(s)
        s.shapes.title.text = title
        body = s.placeholders[1]
        body.left, body.top, body.width, body.height = Inches(0.8), Inches(1.7), Inches(11.7), Inches(5.3)
        tf = body.text_frame
        for i, it in enumerate(items):
            para = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
            para.text = it
            para.font.size = Pt(22)
        if notes:
            s.notes_slide.notes_text_frame.text = notes
        return s

    s = p.slides.add_slide(title_layout)
    fit(s)
    s.shapes.title.text = "迅达快运 2026 企业客户服务介绍"
    s.placeholders[1].left, s.placeholders[1].width = Inches(0.6), Inches(12.1)
    s.placeholders[1].text = "SwiftArrow Express · 企业客户部 · 2026 年 3 月"

    bullets("关于迅达快运", [
        "国内网络覆盖 31 个省级行政区、2,860 个区县，乡镇覆盖率约 96%",
        "7 个区域分拨中心、210 个转运中心、超过 18,000 个自提点",
        "自有及合作干线车辆约 4,600 台，其中冷链车辆 380 台",
        "冷链服务覆盖 120 个城市，国际快件通达 28 个国家和地区",
    ], notes="讲解提示：2025 年全网日均处理快件约 620 万票，“双十一”当天峰值达到 1,450 万票。"
             "介绍网络规模时可以引用这两个数字。")

    bullets("企业月结账户", [
        "开通条件：预计月均运费不低于 2,000 元，或月均寄件不少于 200 票",
        "审核 3 个工作日，月结账号为 YJ 加 8 位数字",
        "每月 5 日出具上月账单，每月 20 日前付款",
        "最多 50 个子账号，按部门分别统计运费；可开具增值税专用发票",
    ], notes="新开通月结的企业客户可借用 1 台电子面单打印机，押金 300 元，解约时全额退还。"
             "电子面单本身免费，不另收面单费。")

    s = p.slides.add_slide(title_only)
    fit(s)
    s.shapes.title.text = "合同客户等级（2026 版）"
    rows = [
        ("客户等级", "近 3 个月月均运费", "基础运费折扣", "客户经理响应"),
        ("合同银牌", "3 万元至 10 万元", "9 折", "2 小时内"),
        ("合同金牌", "10 万元至 50 万元", "85 折", "1 小时内"),
        ("合同铂金", "50 万元以上", "8 折", "30 分钟内"),
    ]
    tbl = s.shapes.add_table(len(rows), 4, Inches(0.8), Inches(1.9), Inches(11.7), Inches(3.2)).table
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            tbl.cell(r, c).text = v
            tbl.cell(r, c).text_frame.paragraphs[0].font.size = Pt(20)
    box = s.shapes.add_textbox(Inches(0.8), Inches(5.4), Inches(11.7), Inches(1.0))
    box.text_frame.text = "折扣仅适用于基础运费；燃油附加费、偏远地区附加费、保价费按标准收取。详见《大客户合同服务标准》。"
    box.text_frame.paragraphs[0].font.size = Pt(16)

    bullets("开放平台与系统对接", [
        "API 下单、电子面单、轨迹推送、对账单下载",
        "提供主流电商平台和 ERP 系统的对接插件",
        "沙箱测试环境免费申请",
        "合同客户接口调用上限可提升至每秒 200 次",
    ], notes="接口限流：每个月结账号默认每秒 50 次调用。正式上线前须在沙箱环境完成联调测试，"
             "从申请到上线一般需要 5 个工作日。轨迹推送失败时，系统会在 24 小时内重试 6 次。")

    bullets("仓储与一件代发（迅达云仓）", [
        "上海青浦、广州白云、北京大兴、成都双流、武汉东西湖 5 个城市设仓",
        "每天 16:00 前生成的订单当日出库",
        "上海、广州仓设 2℃–8℃ 冷藏区，冷藏商品以冷链冷藏发出",
        "收费标准与入库要求详见《仓储服务说明》",
    ])

    bullets("联系我们", [
        "全国客服热线 400-820-5566，按 2 转商家服务专席",
        "专属客户经理工作日 9:00–18:00 在岗",
        "合同咨询邮箱 ka@swiftarrow-express.example",
        "企业服务平台：账单、子账号、发票和入库预约",
    ], notes="非工作时间拨打 400-820-5566 按 2 并输入月结账号，可转接大客户值班组，值班组 7×24 小时受理。")

    cp = p.core_properties
    cp.title = "2026 企业客户服务介绍"
    cp.author = AUTHOR
    cp.last_modified_by = AUTHOR
    cp.created = FIXED
    cp.modified = FIXED
    cp.revision = 1
    path = out("services/2026企业客户服务介绍.pptx")
    p.save(path)
    normalize_zip(path)
    return path


# ---------------------------------------------------------------------------------------------
# 5. XLSX: 网点营业时间表
# ---------------------------------------------------------------------------------------------

BRANCHES = [
    # id, city, name, address, weekday, weekend, next-day cutoff, cold chain, opened
    ("SH-PD-001", "上海", "浦东陆家嘴营业部", "浦东新区银城中路 68 号 1 层", "08:30–19:30", "09:00–18:00", "16:30", "是", (2015, 6, 1)),
    ("SH-XH-002", "上海", "徐汇漕河泾营业部", "徐汇区宜山路 900 号 B 座底商", "08:30–19:30", "09:00–18:00", "16:30", "是", (2016, 3, 15)),
    ("SH-QP-003", "上海", "青浦华新营业部", "青浦区华新镇华志路 1200 号", "08:00–19:00", "09:00–17:00", "16:00", "是", (2019, 9, 10)),
    ("BJ-CY-001", "北京", "朝阳望京营业部", "朝阳区望京街 10 号院 2 号楼", "08:30–19:30", "09:00–18:00", "16:30", "是", (2016, 8, 8)),
    ("BJ-HD-002", "北京", "海淀中关村营业部", "海淀区中关村大街 27 号底商", "08:30–20:00", "09:00–18:30", "16:30", "是", (2017, 4, 20)),
    ("GZ-TH-001", "广州", "天河珠江新城营业部", "天河区华夏路 30 号首层", "08:30–19:30", "09:00–18:00", "16:30", "是", (2016, 11, 1)),
    ("SZ-NS-001", "深圳", "南山科技园营业部", "南山区科苑路 15 号 1 层", "08:30–20:00", "09:00–18:30", "16:30", "是", (2017, 7, 3)),
    ("HZ-XH-001", "杭州", "西湖文三路营业部", "西湖区文三路 259 号", "08:30–19:00", "09:00–17:30", "16:30", "是", (2018, 2, 26)),
    ("SU-GS-001", "苏州", "姑苏观前营业部", "姑苏区人民路 1088 号", "08:30–19:00", "09:00–17:30", "16:30", "是", (2018, 5, 18)),
    ("NJ-GL-001", "南京", "鼓楼新街口营业部", "鼓楼区中山路 99 号", "08:30–19:00", "09:00–17:30", "16:30", "是", (2018, 10, 9)),
    ("WH-JH-001", "武汉", "江汉王家墩营业部", "江汉区建设大道 568 号", "08:30–19:00", "09:00–17:30", "16:30", "是", (2019, 3, 12)),
    ("CD-WH-001", "成都", "武侯高升桥营业部", "武侯区一环路南四段 9 号", "08:30–19:00", "09:00–17:30", "16:00", "是", (2018, 12, 6)),
    ("CQ-YZ-001", "重庆", "渝中解放碑营业部", "渝中区民族路 188 号", "08:30–19:00", "09:00–17:30", "16:00", "是", (2019, 6, 28)),
    ("XA-YT-001", "西安", "雁塔小寨营业部", "雁塔区长安中路 45 号", "08:30–19:00", "09:00–17:30", "16:00", "是", (2020, 4, 1)),
    ("HRB-NG-001", "哈尔滨", "南岗西大直街营业部", "南岗区西大直街 118 号", "08:30–18:30", "09:00–17:00", "16:00", "是", (2020, 9, 15)),
    ("XN-CX-001", "西宁", "城西胜利路营业部", "城西区胜利路 52 号", "09:00–18:30", "10:00–17:00", "未开通", "是", (2022, 5, 20)),
    ("WLMQ-SY-001", "乌鲁木齐", "沙依巴克友好路营业部", "沙依巴克区友好南路 36 号", "09:30–19:30", "10:30–18:00", "未开通", "否", (2021, 7, 1)),
    ("LS-CG-001", "拉萨", "城关北京中路营业部", "城关区北京中路 21 号", "09:30–18:30", "10:30–17:00", "未开通", "否", (2023, 4, 18)),
]

# id -> (shipments in Q1 2026, average freight per shipment, packaging sales, on-time rate, satisfaction)
METRICS = [
    (48215, 14.36, 18420.50, 0.978, 0.962), (36904, 13.92, 12875.00, 0.975, 0.958),
    (29377, 16.85, 9634.20, 0.969, 0.951), (41288, 15.10, 15302.80, 0.972, 0.955),
    (38760, 14.88, 13990.40, 0.976, 0.960), (44012, 13.75, 16204.00, 0.974, 0.957),
    (45630, 13.60, 17118.60, 0.977, 0.961), (33418, 12.94, 10452.30, 0.981, 0.966),
    (27806, 12.40, 8817.90, 0.983, 0.968), (30125, 12.88, 9910.00, 0.979, 0.963),
    (26544, 15.42, 8233.70, 0.970, 0.952), (31270, 17.66, 10985.10, 0.968, 0.949),
    (25980, 17.21, 8640.40, 0.966, 0.948), (22718, 16.93, 7420.60, 0.967, 0.950),
    (15642, 19.05, 5218.30, 0.958, 0.944), (6815, 24.70, 2366.00, 0.941, 0.931),
    (9428, 26.35, 3104.50, 0.936, 0.927), (4210, 27.80, 1478.00, 0.929, 0.924),
]


def make_xlsx():
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    wb = Workbook()
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    hfill = PatternFill("solid", fgColor="0B4F8A")
    hfont = Font(bold=True, color="FFFFFF")

    def header(ws, cols, widths):
        ws.append(cols)
        for i, w in enumerate(widths, start=1):
            c = ws.cell(row=1, column=i)
            c.fill, c.font, c.border = hfill, hfont, border
            c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            ws.column_dimensions[c.column_letter].width = w
        ws.freeze_panes = "A2"

    ws = wb.active
    ws.title = "自营网点营业时间"
    header(ws, ["网点编号", "城市", "网点名称", "地址", "工作日营业时间", "周末及节假日营业时间",
                "次日达当日最晚交寄", "可寄冷链", "开业日期"], [13, 9, 22, 30, 15, 18, 17, 9, 12])
    for b in BRANCHES:
        ws.append(list(b[:8]) + [datetime.date(*b[8])])
        r = ws.max_row
        ws.cell(row=r, column=9).number_format = "yyyy-mm-dd"
        for c in range(1, 10):
            ws.cell(row=r, column=c).border = border
    n = ws.max_row + 2
    ws.cell(row=n, column=1, value="说明：春节等节假日的营业时间以当期公告为准；次日达须寄、收两地均为开通城市。"
                                   "冷链快件不在自提点交寄，请直接到可寄冷链的营业部或预约上门取件。")

    ws2 = wb.create_sheet("2026年一季度服务指标")
    header(ws2, ["网点编号", "网点名称", "统计截止日期", "揽收票数", "平均单票运费（元）", "包材销售额（元）",
                 "准时派送率", "客户满意度"], [13, 22, 13, 11, 17, 16, 11, 11])
    for b, m in zip(BRANCHES, METRICS):
        ws2.append([b[0], b[2], datetime.date(2026, 3, 31), m[0], m[1], m[2], m[3], m[4]])
        r = ws2.max_row
        for c, fmt in ((3, "yyyy-mm-dd"), (4, "#,##0"), (5, "#,##0.00"), (6, "#,##0.00"), (7, "0.0%"), (8, "0.0%")):
            ws2.cell(row=r, column=c).number_format = fmt
        for c in range(1, 9):
            ws2.cell(row=r, column=c).border = border

    wb.properties.title = "网点营业时间表"
    wb.properties.creator = AUTHOR
    wb.properties.lastModifiedBy = AUTHOR
    wb.properties.created = FIXED
    wb.properties.modified = FIXED
    path = out("services/网点营业时间表.xlsx")
    wb.save(path)
    normalize_zip(path)
    return path


# ---------------------------------------------------------------------------------------------
# --verify: extract the text of the generated files the way the loaders will (pdftotext; pdftoppm +
# tesseract for the scan; python-docx / python-pptx / openpyxl for the Office files) and check that
# every gold answer of eval.jsonl for these files occurs verbatim.
# ---------------------------------------------------------------------------------------------

def extract(rel):
    import subprocess
    import tempfile
    path = os.path.join(ROOT, rel)
    parts = {}
    if rel.endswith(".pdf"):
        text = subprocess.run(["pdftotext", path, "-"], capture_output=True, text=True, check=True).stdout
        if text.strip():
            parts["text"] = text
        else:
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", path, os.path.join(tmp, "p")], check=True)
                for png in sorted(os.listdir(tmp)):
                    parts["ocr " + png] = subprocess.run(
                        ["tesseract", os.path.join(tmp, png), "stdout", "-l", "chi_sim"],
                        capture_output=True, text=True, check=True).stdout
    elif rel.endswith(".docx"):
        import docx
        d = docx.Document(path)
        parts["paragraphs"] = "\n".join(p.text for p in d.paragraphs)
        parts["tables"] = "\n".join(c.text for t in d.tables for row in t.rows for c in row.cells)
    elif rel.endswith(".pptx"):
        from pptx import Presentation
        for i, slide in enumerate(Presentation(path).slides, start=1):
            texts = []
            for sh in slide.shapes:
                if sh.has_text_frame:
                    texts.append(sh.text_frame.text)
                if sh.has_table:
                    texts += [c.text for row in sh.table.rows for c in row.cells]
            parts["slide %d" % i] = "\n".join(texts)
            if slide.has_notes_slide:
                parts["notes %d" % i] = slide.notes_slide.notes_text_frame.text
    elif rel.endswith(".xlsx"):
        from openpyxl import load_workbook
        for ws in load_workbook(path).worksheets:
            parts["sheet " + ws.title] = "\n".join(
                str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    return parts


def verify():
    import json
    generated = {"services/大客户合同服务标准.pdf", "notices/扫描件-春节网点营业安排.pdf", "services/仓储服务说明.docx",
                 "services/2026企业客户服务介绍.pptx", "services/网点营业时间表.xlsx"}
    cache = {}
    bad = 0
    with open(os.path.join(ROOT, "eval.jsonl"), encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            docs = [d for d in q["documents"] if d in generated]
            if not docs:
                continue
            for gold in q["answers"]:
                where = []
                for d in docs:
                    if d not in cache:
                        cache[d] = extract(d)
                    where += ["%s [%s]" % (d, k) for k, v in cache[d].items() if gold in v]
                if not where:
                    bad += 1
                print("%s %-14s %s" % (q["id"], gold, "; ".join(where) or "MISSING"))
    print("missing gold strings:", bad)
    return 1 if bad else 0


def main():
    if "--verify" in sys.argv[1:]:
        return verify()
    made = []
    path, pages = make_contract_pdf()
    made.append("%s (%d pages)" % (path, pages))
    made.append(make_scan_pdf())
    made.append(make_docx())
    made.append(make_pptx())
    made.append(make_xlsx())
    for m in made:
        print(os.path.relpath(m.split(" (")[0], ROOT), "-", os.path.getsize(m.split(" (")[0]), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
