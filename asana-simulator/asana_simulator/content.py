"""Text pools for generated data: deliberately mixes emoji, CJK, RTL scripts,
combining accents, quotes and multi-line strings, because those are what break
loaders (encoding, escaping, column widths) in production."""

FIRST_NAMES = [
    "Alice", "Bob", "Chloé", "Dmitri", "Emeka", "Fatima", "Giulia", "Hiroshi", "Ingrid",
    "José", "Kwame", "Lena", "Mateo", "Nadia", "Ørjan", "Priya", "Quentin", "Rosa",
    "Siobhán", "Tomás", "Uma", "Viktor", "Wen", "Xiomara", "Yusuf", "Zoë",
    "李雷", "王芳", "さくら", "محمد", "سارة", "דוד", "Ayşe", "Łukasz",
]
LAST_NAMES = [
    "Anderson", "Brown", "Chen", "Dubois", "Eriksen", "Fernández", "García", "Hansen",
    "Ivanova", "Jones", "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Patel",
    "Qureshi", "Rossi", "Smith", "Tanaka", "Ueda", "Volkov", "Williams", "Xu", "Yamamoto",
    "Zhang", "佐藤", "الحسن", "כהן", "Nguyễn",
]
TEAM_NAMES = [
    "Engineering ⚙️", "Marketing", "デザイン", "Customer Success", "Finance", "المبيعات",
    "Platform", "Data & Analytics", "People Ops", "Security 🔐", "研发", "Legal",
]
PROJECT_NAMES = [
    "Q3 Launch 🚀", "Website Redesign", "移动应用 v2", "مشروع التسويق", "Infra migration",
    "Onboarding flow", "Customer research", "Data warehouse", "Brand refresh ✨",
    "Mobile release train", "פרויקט תשתית", "Hiring plan", "Roadmap 2026", "API v3",
    "Billing revamp", "Support backlog", "顧客管理", "Security audit", "Offsite planning 🏕️",
    "Localization",
]
SECTION_NAMES = [
    "Untitled section", "To do", "In progress", "Review — 検討", "Done ✅", "Backlog 📥",
    "Blocked", "قيد التنفيذ", "Ideas", "Next up",
]
TAG_NAMES = [
    "urgent 🔥", "bug", "needs-review", "客户", "blocked", "قيد المراجعة", "Q4",
    "design", "tech-debt", "quick win", "customer: ACME", "low-priority",
]
TASK_VERBS = [
    "Fix", "Draft", "Review", "Ship", "Investigate", "Update", "Plan", "Write", "Test",
    "Refactor", "Migrate", "Design", "Document", "Schedule", "准备", "مراجعة", "בדוק",
]
TASK_OBJECTS = [
    "login page", "Q3 report", "billing webhook", "onboarding email", "API rate limiter",
    "dashboard 📊", "release notes", "customer interview", "data export", "pricing page",
    "“quoted” headline", "Café menu", "会议纪要", "تقرير المبيعات", "דו\"ח רבעוני",
    "mobile crash on iOS 17", "CSV import, with commas", "emoji picker 😀🎉",
    "tab\tseparated title", "search index",
]
NOTES = [
    "",
    "",
    "Quick one.",
    "Steps to reproduce:\n1. Open the app\n2. Click “Save”\n3. Observe the 💥\n\nExpected: no crash.",
    "See the spec in the shared drive.\nOwner: ops team.",
    "会议记录：\n- 讨论了发布计划\n- 下周跟进",
    "ملاحظات الاجتماع:\nمراجعة الميزانية قبل نهاية الشهر.",
    "הערות: לבדוק שוב מחר",
    "Multi-line note with trailing spaces   \n\tand a tab-indented line\n\n\nand blank lines.",
    "Links: https://example.com/a?b=c&d=e <not html> & \"quotes\" 'single'",
    "Emoji party 🎉🚀✨ — with combining e\u0301 and ZWJ 👩‍💻",
    "Backslashes \\n are not newlines; JSON-ish {\"k\": [1,2]} text.",
]
COMMENTS = [
    "Looks good to me 👍",
    "Can we push this to next week?",
    "Done, see attached.",
    "I’ll take this one.",
    "これは確認済みです。",
    "تمت المراجعة، شكراً!",
    "בוצע ✔",
    "Blocked on the API change.\nWill update tomorrow.",
    "+1 — also affects the mobile app 📱",
    "Multi-line\ncomment\n\nwith a blank line",
]
PROJECT_COLORS = [
    "dark-pink", "dark-green", "dark-blue", "dark-red", "dark-teal", "dark-brown",
    "dark-orange", "dark-purple", "dark-warm-gray", "light-pink", "light-green", "light-blue",
    "light-red", "light-teal", "light-brown", "light-orange", "light-purple", "light-warm-gray",
]
PROJECT_ICONS = [
    "list", "board", "timeline", "calendar", "rocket", "people", "graph", "star", "bug",
    "light_bulb", "globe", "gear", "notebook", "computer", "check", "target",
]
ENUM_COLORS = ["red", "orange", "yellow-orange", "yellow", "yellow-green", "green", "blue-green",
               "aqua", "blue", "indigo", "purple", "magenta", "hot-pink", "pink", "cool-gray"]
TEXT_VALUES = ["ACME-42", "needs legal sign-off", "見積もり済み", "بانتظار الموافقة",
               "v2.3.1", "customer: “Globex”", "multi\nline value", "🚧 WIP"]
