"""Build ``redaction_hard.jsonl``: a larger, harder redaction evaluation set in the shapes UK community notes take.

Run: ``python tests/data/build_redaction_hard.py`` (writes the JSONL next to this file; the output is committed).

What is in it, and why:

- **Names of many heritages** that UK cities' food shares, mutual-aid groups and advice services really write
  down (Welsh, Irish, Scottish, English, Caribbean, Yoruba, Igbo, Ghanaian, Shona, Zulu and Xhosa, Somali, Eritrean
  and Ethiopian, Sudanese, Arabic, Kurdish and Turkish, South Asian, Chinese pinyin, Vietnamese, Polish and other
  Eastern European, Roma, Portuguese and Brazilian), in the contexts notes use: "me and X", "thanks to X",
  "X's kids", "my neighbour X", full names, a title and surname, lower-case notes ("me and shaz sorted the parcels"),
  nicknames and diminutives ("Dazza", "Tel", "Jonesy", "Smudge", "Macca", "kev") and names that are also words
  ("Will", "Joy", "Patience", "Rose", "Sky") used for people.
- **Capitalised words that are not names and must be kept**: Bristol areas, shops ("Greggs"), hospitals named after
  saints ("St Michael's Hospital"), car models ("Corsa"), festivals, days and months, services, and the same
  name-words used as words ("Hope is thin on the ground", "Will do").
- **New structured shapes**: UK vehicle registrations (current "WU19 ABX", prefix "A123 BCD", suffix "ABC 123D";
  "BD51 SMR" is a registration, not a postcode), social handles with and without "@" (``shirley.b.bristol``,
  ``dazza_b2010``) and spelled-out emails ("sarah dot jones at gmail dot com").

**Tuning and holdout.** Every pool (names of each heritage, nicknames, name-words, templates, keep-words,
structured values) is split in two: the examples the issue itself names go to the *tuning* half (the unit tests use
them), the rest alternately to each half, so the holdout has names, sentences and values that never appear in the
tuning half. Rules may be tuned looking at the tuning half only; nothing from the holdout half may be added by hand
to a word list or rule.
The names were written for this set from general knowledge of the heritages named above, not drawn from the
gazetteer files redaction uses (``nlp/data/names``, built from other sources).

Markup in the generated lines (the same as ``redaction_eval_*.txt``): ``[TYPE:text]`` is personal data;
``{K:text}`` a word to keep, K one of A (area), S (service or organisation), P (shop), H (hospital), C (car),
F (festival), D (day or month), W (an ordinary word that is also a name).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 11

# Heritage pools: (given names, surnames). Written by hand for this set.
HERITAGES: dict[str, tuple[list[str], list[str]]] = {
    "welsh": (
        [
            "Lowri",
            "Rhys",
            "Cerys",
            "Dafydd",
            "Gethin",
            "Sioned",
            "Iwan",
            "Ffion",
            "Bethan",
            "Owain",
            "Llinos",
            "Aled",
            "Elin",
            "Gruffydd",
            "Nia",
            "Carys",
            "Emyr",
            "Angharad",
            "Huw",
            "Mared",
        ],
        ["Llewellyn", "Pritchard", "Prosser", "Griffiths", "Vaughan", "Bowen", "Powell", "Pugh", "Meredith", "Jenkins"],
    ),
    "irish": (
        [
            "Aoife",
            "Ruairi",
            "Padraig",
            "Niamh",
            "Siobhan",
            "Cian",
            "Oisin",
            "Saoirse",
            "Eoin",
            "Grainne",
            "Sinead",
            "Colm",
            "Aisling",
            "Donal",
            "Caoimhe",
            "Fionnuala",
            "Tadhg",
            "Orla",
            "Declan",
            "Roisin",
        ],
        [
            "O'Sullivan",
            "McCarthy",
            "Gallagher",
            "Doherty",
            "Kavanagh",
            "Byrne",
            "Quinlan",
            "O'Brien",
            "Flanagan",
            "Brennan",
        ],
    ),
    "scottish": (
        [
            "Eilidh",
            "Hamish",
            "Iona",
            "Callum",
            "Morag",
            "Fraser",
            "Isla",
            "Ewan",
            "Kirsty",
            "Alasdair",
            "Catriona",
            "Lachlan",
            "Mhairi",
            "Struan",
            "Ailsa",
            "Euan",
        ],
        ["MacLeod", "Campbell", "Henderson", "Fraser", "MacDonald", "Robertson", "Munro", "Sutherland"],
    ),
    "english": (
        [
            "Darren",
            "Sharon",
            "Terry",
            "Kevin",
            "Tracey",
            "Gary",
            "Karen",
            "Wayne",
            "Stacey",
            "Dean",
            "Jodie",
            "Lee",
            "Kayleigh",
            "Craig",
            "Shannon",
            "Barry",
            "Debbie",
            "Gavin",
            "Leanne",
            "Trevor",
        ],
        ["Harris", "Coleman", "Pearce", "Bennett", "Fletcher", "Dawson", "Hughes", "Chapman", "Tucker", "Gregory"],
    ),
    "caribbean": (
        [
            "Keisha",
            "Marcel",
            "Delroy",
            "Winston",
            "Claudette",
            "Tyrone",
            "Shanice",
            "Errol",
            "Marcia",
            "Leroy",
            "Hyacinth",
            "Desmond",
            "Jermaine",
            "Beverley",
            "Clive",
            "Paulette",
            "Dwayne",
            "Yolanda",
            "Lloyd",
            "Shereen",
        ],
        ["Campbell", "Brown", "Thompson", "Clarke", "Forbes", "Gayle", "Reid", "Spencer", "Samuels", "Grant"],
    ),
    "yoruba_igbo": (
        [
            "Temitope",
            "Adebayo",
            "Oluwaseun",
            "Folake",
            "Babatunde",
            "Yetunde",
            "Chinedu",
            "Ngozi",
            "Chidinma",
            "Emeka",
            "Ifeoma",
            "Obinna",
            "Funmilayo",
            "Olumide",
            "Adaeze",
            "Kelechi",
            "Tolulope",
            "Uchenna",
            "Bukola",
            "Nnamdi",
        ],
        ["Adeyemi", "Okafor", "Okonkwo", "Adebayo", "Olawale", "Nwosu", "Eze", "Ogunleye", "Afolabi", "Chukwu"],
    ),
    "ghanaian": (
        ["Kwame", "Akosua", "Kofi", "Ama", "Yaw", "Abena", "Kwabena", "Adwoa", "Kojo", "Efua", "Esi", "Kwaku"],
        ["Mensah", "Asante", "Boateng", "Owusu", "Agyeman", "Osei"],
    ),
    "southern_african": (
        [
            "Tatenda",
            "Sibusiso",
            "Tendai",
            "Farai",
            "Nomvula",
            "Thandiwe",
            "Tinashe",
            "Nyasha",
            "Rutendo",
            "Kudzai",
            "Sipho",
            "Lindiwe",
            "Thabo",
            "Zanele",
            "Mandla",
            "Ayanda",
            "Lwazi",
            "Nokuthula",
            "Bongani",
            "Chipo",
        ],
        ["Moyo", "Ndlovu", "Dube", "Nkosi", "Mahlangu", "Chikwanha", "Mutasa", "Sibanda", "Khumalo", "Zulu"],
    ),
    "east_african": (
        [
            "Abdirahman",
            "Hodan",
            "Faduma",
            "Hamdi",
            "Ayaan",
            "Warsame",
            "Ubah",
            "Nimco",
            "Liban",
            "Sahra",
            "Yonas",
            "Senait",
            "Tesfaye",
            "Mulugeta",
            "Selam",
            "Abebe",
            "Wanjiru",
            "Otieno",
            "Achieng",
            "Kamau",
        ],
        ["Farah", "Warsame", "Hersi", "Abdullahi", "Jama", "Tesfaye", "Haile", "Kiplagat"],
    ),
    "arabic_sudanese": (
        [
            "Mohammed",
            "Fatima",
            "Khalid",
            "Yasmin",
            "Omar",
            "Layla",
            "Tariq",
            "Nour",
            "Hamza",
            "Rania",
            "Bilal",
            "Salma",
            "Youssef",
            "Amal",
            "Mustafa",
            "Samira",
            "Ibrahim",
            "Mariam",
            "Abdelrahman",
            "Hiba",
        ],
        ["Al-Hassan", "Mahmoud", "Abdallah", "Haddad", "Osman", "Elamin", "Mansour", "Saleh"],
    ),
    "kurdish_turkish": (
        [
            "Rojda",
            "Baran",
            "Dilan",
            "Serhat",
            "Zozan",
            "Rezan",
            "Mehmet",
            "Ayse",
            "Emre",
            "Elif",
            "Burak",
            "Zeynep",
            "Hakan",
            "Gulsen",
        ],
        ["Yilmaz", "Kaya", "Demir", "Celik", "Aydin", "Ozturk", "Dogan", "Arslan"],
    ),
    "south_asian": (
        [
            "Priya",
            "Rajesh",
            "Sunita",
            "Harpreet",
            "Gurdeep",
            "Anjali",
            "Imran",
            "Shabana",
            "Nasreen",
            "Arjun",
            "Kiran",
            "Deepak",
            "Rukhsana",
            "Sajid",
            "Parveen",
            "Mohinder",
            "Tahir",
            "Farzana",
            "Amrit",
            "Shazia",
            "Kuldip",
            "Nusrat",
            "Rafiq",
            "Lakshmi",
        ],
        [
            "Patel",
            "Begum",
            "Khan",
            "Singh",
            "Chowdhury",
            "Hussain",
            "Akhtar",
            "Sharma",
            "Kaur",
            "Rahman",
            "Mistry",
            "Iqbal",
        ],
    ),
    "chinese_vietnamese": (
        [
            "Xiaoling",
            "Wei",
            "Jianhua",
            "Mei",
            "Zhiwei",
            "Yanling",
            "Xiaoming",
            "Huifang",
            "Jun",
            "Li",
            "Na",
            "Hong",
            "Thanh",
            "Linh",
            "Minh",
            "Huong",
            "Quang",
            "Thuy",
            "Duc",
            "Lan",
        ],
        ["Zhang", "Wang", "Chen", "Liu", "Huang", "Nguyen", "Tran", "Pham", "Le", "Hoang"],
    ),
    "eastern_european": (
        [
            "Agnieszka",
            "Tomasz",
            "Katarzyna",
            "Krzysztof",
            "Małgorzata",
            "Wojciech",
            "Bogdan",
            "Ionut",
            "Andreea",
            "Mihai",
            "Oksana",
            "Dmytro",
            "Jurgita",
            "Mindaugas",
            "Ilze",
            "Janis",
            "Gheorghe",
            "Florin",
            "Zsofia",
            "Kristina",
        ],
        [
            "Kowalski",
            "Nowak",
            "Wiśniewska",
            "Zielinski",
            "Popescu",
            "Ionescu",
            "Shevchenko",
            "Kazlauskas",
            "Berzins",
            "Horvath",
        ],
    ),
    "roma_portuguese": (
        ["Nicoleta", "Marius", "Valentina", "Florentina", "Joao", "Thiago", "Larissa", "Rafaela", "Goncalo", "Bruna"],
        ["Silva", "Santos", "Ferreira", "Oliveira", "Rostas", "Lakatos"],
    ),
}
# Nicknames and diminutives, as written in notes (capitalised or not): (written, lower-case use allowed).
NICKNAMES = [
    "Dazza",
    "Tel",
    "Jonesy",
    "Smudge",
    "Macca",
    "Kev",
    "Shaz",
    "Gaz",
    "Bazza",
    "Tez",
    "Chezza",
    "Stevo",
    "Robbo",
    "Dicko",
    "Wilko",
    "Nobby",
    "Tommo",
    "Jacko",
    "Mo",
    "Del",
    "Trev",
    "Bev",
    "Dot",
    "Sal",
    "Baz",
    "Kezza",
    "Lozza",
    "Shell",
    "Nat",
    "Becks",
    "Bex",
    "Tash",
    "Jess",
    "Dan",
    "Mikey",
    "Tony",
    "Col",
    "Pete",
    "Vic",
    "Ollie",
]
# Names that are also ordinary words, used for people in the PII templates and as words in the keep templates.
NAME_WORDS = [
    "Will",
    "Joy",
    "Patience",
    "Rose",
    "Sky",
    "Bill",
    "Mark",
    "Grace",
    "Hope",
    "Faith",
    "Precious",
    "Blessing",
    "Summer",
    "Ruby",
    "Amber",
    "Jack",
    "Frank",
    "Dawn",
    "Hazel",
    "Ivy",
    "Holly",
    "Lily",
    "Daisy",
    "Sunny",
    "Pearl",
    "Olive",
    "Iris",
    "Heather",
    "Crystal",
    "Destiny",
    "Angel",
    "Jade",
    "Bob",
    "Pat",
    "Sandy",
    "Honor",
    "Chase",
    "Rich",
    "Guy",
]

# Person templates. Slots: <G> given name, <g> given name in lower case, <F> full name, <T> title + surname,
# <N> nickname, <n> nickname in lower case, <W> a name that is also a word, used for a person.
PERSON_TEMPLATES = [
    "Me and <g> sorted the parcels at the {A:Easton} pantry this morning.",
    "Thanks to <G> for driving the van round {A:Hartcliffe} again.",
    "<G>'s kids have had no hot meal since the electric went off.",
    "My neighbour <G> has not been out since her fall in {D:January}.",
    "<F> came in asking about the {S:Household Support Fund}, she has three kids under five.",
    "Spoke to <T> about the damp, the landlord still hasn't been round.",
    "big thanks to <n> and the lads for shifting the donations",
    "<N> dropped off twenty loaves from {P:Greggs} at closing time.",
    "Me and <N> did the {A:Lawrence Hill} round, forty bags out.",
    "<W> came in again today, she is sleeping on a friend's sofa.",
    "Thanks to <W> for covering the Tuesday shift at the hub.",
    "<W>'s kids were at the breakfast club on {D:Monday}.",
    "Left a message for <g>, she needs a food parcel before {F:Eid}.",
    "<G> and <G> from the tenants group want a meeting about the lifts.",
    "Had a long chat with <G>, who cares for her mum in {A:Southmead}.",
    "Volunteer <F> ran the warm space on her own all week.",
    "<T> was referred to {S:Citizens Advice} for the council tax arrears.",
    "me and <n> went to {P:Lidl} for the nappies, back by 2",
    "Can someone ring <G> back about the wheelchair loan?",
    "Her son <G> is on the waiting list for {S:CAMHS} since {D:March}.",
    "<G> <S> has been in {H:St Michael's Hospital} with the baby since {D:Friday}.",
    "Lovely note from <G>: the slow cooker changed everything.",
    "asked <g> if she wanted the cot, she said yes please",
    "My friend <G> lost her job at {P:Primark} and can't make rent.",
    "Please pass on thanks to <N>, the van is running again.",
    "<G> says the bus to {A:Stockwood} is always late now.",
    "Drove <G> to her appointment at {H:Southmead Hospital} in the {C:Corsa}.",
    "Both <G> and her sister <G> need school uniform by {D:September}.",
    "Dropped a parcel at <G>'s flat, no answer, left it with the neighbour.",
    "<N> and <N> did the collection from {P:Tesco}.",
    "Gave <W> a lift to the jobcentre after her shift at {P:Iceland}.",
    "met <g> at the bus stop, her husband is in hospital again",
    "Mrs <S> is worried about her grandson, he was stopped by police twice.",
    "Mr <S> wants help filling in the {S:PIP} form before {D:Thursday}.",
    "<G> brought samosas for {F:Diwali}, everyone loved them.",
    "Ask for <G> at the desk, she knows which families are waiting.",
    "<F> and her three children moved to a hostel in {A:Bedminster}.",
    "<G>'s husband works nights at the depot and sleeps days.",
    "Huge thanks to <F> for the fridge for the community kitchen.",
    "Our volunteer <W> knows everyone on the estate.",
    "kids club full again, <n> says we need two more helpers",
    "<N> reckons the {C:Transit} needs new tyres before winter.",
    "spoke with <g> <s> about the gas meter, she is on emergency credit",
    "Could <G> call the office on {D:Wednesday} about the cooker?",
    "I told <G> we would bring the pram after {F:Christmas}.",
    "<T> said the heating in {A:Knowle West} has been off for a week.",
    "Picked up <G> from {A:St Pauls} and took her to the clinic.",
    "The little one, <G>, is starting nursery in {D:April}.",
    "Me and <G> are running the coffee morning in {A:Filwood}.",
    "<G> <S> told us her rent went up by a hundred a month.",
]

# Keep templates: capitalised words that must survive. Slots: <SHOP>, <HOSP>, <CAR>, <FEST>, <DAY>, <AREA>,
# <SERV>, <WORDCAP> (a name-word used as a word at the start of a sentence), <word> (lower-case name-word).
KEEP_POOLS: dict[str, tuple[str, list[str]]] = {
    "SHOP": (
        "P",
        [
            "Greggs",
            "Morrisons",
            "Waitrose",
            "Iceland",
            "Poundland",
            "Home Bargains",
            "Wilko",
            "Primark",
            "Boots",
            "Superdrug",
            "Argos",
            "Currys",
            "Halfords",
            "Costa",
            "Nando's",
            "Aldi",
            "Lidl",
            "Asda",
            "Tesco",
            "Sainsbury's",
            "Farmfoods",
            "Matalan",
            "Specsavers",
            "Screwfix",
            "Heron Foods",
            "B&M",
            "TK Maxx",
            "Peacocks",
            "Cash Converters",
            "Ladbrokes",
            "Betfred",
            "William Hill",
            "Paddy Power",
            "Sports Direct",
            "Timpson",
            "Post Office",
        ],
    ),
    "HOSP": (
        "H",
        [
            "St Michael's Hospital",
            "Southmead Hospital",
            "Bristol Royal Infirmary",
            "St Peter's Hospice",
            "Bristol Children's Hospital",
            "Bristol Eye Hospital",
            "Weston General Hospital",
            "Callington Road Hospital",
            "Cossham Hospital",
            "South Bristol Community Hospital",
            "St Mary's Hospital",
            "St John's Hospice",
            "St Luke's Surgery",
            "St Martin's Surgery",
        ],
    ),
    "CAR": (
        "C",
        [
            "Corsa",
            "Fiesta",
            "Astra",
            "Focus",
            "Polo",
            "Clio",
            "Micra",
            "Yaris",
            "Qashqai",
            "Zafira",
            "Transit",
            "Berlingo",
            "Octavia",
            "Prius",
            "Civic",
            "Kuga",
            "Mondeo",
            "Sandero",
            "Juke",
            "Picanto",
            "Aygo",
            "Corolla",
            "Golf",
            "Punto",
        ],
    ),
    "FEST": (
        "F",
        [
            "Eid",
            "Diwali",
            "Ramadan",
            "Vaisakhi",
            "Hanukkah",
            "Passover",
            "Christmas",
            "Easter",
            "Chinese New Year",
            "Lunar New Year",
            "Bonfire Night",
            "Halloween",
            "St Patrick's Day",
            "Black History Month",
            "Windrush Day",
            "Refugee Week",
            "Pride",
            "St Pauls Carnival",
            "Harbour Festival",
            "Kwanzaa",
            "Holi",
            "Nowruz",
            "Burns Night",
            "Pancake Day",
        ],
    ),
    "DAY": (
        "D",
        [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
            "Boxing Day",
        ],
    ),
    "AREA": (
        "A",
        [
            "Easton",
            "Lawrence Hill",
            "Hartcliffe",
            "Withywood",
            "Southmead",
            "Lockleaze",
            "Filwood",
            "Knowle West",
            "Bedminster",
            "Southville",
            "St Pauls",
            "St Werburghs",
            "Barton Hill",
            "Hillfields",
            "Avonmouth",
            "Lawrence Weston",
            "Henbury",
            "Brislington",
            "Stockwood",
            "Ashley",
            "Bishopsworth",
            "Horfield",
            "Fishponds",
            "Eastville",
            "Whitehall",
            "Redfield",
            "Totterdown",
            "Windmill Hill",
            "Hengrove",
            "Stoke Bishop",
        ],
    ),
    "SERV": (
        "S",
        [
            "Citizens Advice",
            "Universal Credit",
            "Shelter",
            "StepChange",
            "Samaritans",
            "Age UK",
            "Julian House",
            "St Mungo's",
            "Marie Curie",
            "Sue Ryder",
            "Barnardo's",
            "Trussell Trust",
            "Wellspring Settlement",
            "Talking Therapies",
            "Jobcentre",
            "Carer's Allowance",
            "Attendance Allowance",
            "Child Benefit",
            "Blue Badge",
            "Motability",
            "Family Hub",
            "Healthy Start",
            "Warm Home Discount",
            "Wessex Water",
            "Octopus Energy",
            "WhatsApp",
            "Facebook",
            "Google Translate",
            "Nextdoor",
            "Deliveroo",
        ],
    ),
}
KEEP_TEMPLATES = [
    "The queue at <SHOP> on {D:Saturday} was out the door for the yellow-sticker food.",
    "Families from <AREA> said the bus cut means no trips to <SHOP> any more.",
    "Took two mums to <HOSP> for their appointments, both waited three hours.",
    "Somebody donated a <CAR> for the delivery round, it needs an MOT.",
    "The <FEST> meal at the community centre fed ninety people.",
    "Next drop-in is <DAY> from 10 till 2 in <AREA>.",
    "Referred a family to <SERV> for help with the arrears.",
    "<WORDCAP> is in short supply round here this winter.",
    "We <word> need more volunteers for the <DAY> shift.",
    "The old <CAR> broke down outside <SHOP> again.",
    "Discharged from <HOSP> with no heating at home.",
    "Planning a party for <FEST> at the <AREA> hub.",
    "Since <DAY> the pantry in <AREA> has run out of nappies.",
    "Asked <SERV> whether the grant covers cookers.",
    "<WORDCAP> was the word everyone used at the meeting.",
    "Lots of people in <AREA> use <SERV> for this now.",
]
WORD_USES = {
    # name-word: (capitalised sentence-initial use, lower-case use in "We <word> need ...")
    "Will": ("Will", "will"),
    "Joy": ("Joy", "really"),
    "Patience": ("Patience", "still"),
    "Rose": ("Rose", "still"),
    "Sky": ("Sky", "also"),
    "Bill": ("Bill", "really"),
    "Mark": ("Mark", "also"),
    "Grace": ("Grace", "still"),
    "Hope": ("Hope", "still"),
}
WORDCAP = [
    "Hope",
    "Patience",
    "Joy",
    "Faith",
    "Grace",
    "Will",
    "Charity",
    "Trust",
    "Summer",
    "Amber",
    "Frank",
    "Honesty",
    "Dawn",
    "Chase",
    "Rich",
    "Sunny",
    "Mark",
    "Bill",
    "Rose",
    "Holly",
]
WORD = ["will", "really", "still", "also", "urgently", "desperately", "honestly", "always"]

# Structured shapes (tuning/holdout split by position).
VEHICLE_REGS = [
    "WU19 ABX",
    "BD51 SMR",
    "AB12 CDE",
    "wu19abx",
    "LV68 HYT",
    "A123 BCD",
    "ABC 123D",
    "BV14 OKL",
    "R456 GHJ",
    "KP21 WZS",
    "MF03 RTA",
    "P789 XYZ",
    "DEF 456G",
    "YB70 NUX",
    "CE58 VBN",
    "OU15 PLM",
    "bd51 smr",
    "S214 KLM",
    "GHJ 789K",
    "WA09 EXP",
    "FY62 JKR",
    "L33 MKT",
    "KLM 12P",
    "HN23 CVB",
]
REG_TEMPLATES = [
    "Car reg <REG> has been parked across the ramp all week.",
    "The van was <REG>, silver, seen outside the school twice.",
    "Someone in a grey car <REG> keeps asking the kids where they live.",
    "Reg <REG> blocked the food bank delivery again.",
    "Her ex drives <REG>, she wants it noted in case he turns up.",
    "Reported <REG> to the council for dumping mattresses.",
]
HANDLES = [
    "shirley.b.bristol",
    "dazza_b2010",
    "@keishaxo",
    "@tel_easton",
    "kev.the.van",
    "@mum_of_4_bs5",
    "shaz_smith77",
    "@jonesy_bristol",
    "temi.adeyemi",
    "@lowri_cerys",
    "macca_1984",
    "aoife.ni.bhriain",
    "@tatenda.m",
    "sibu_ndlovu",
    "@xiaoling.chen",
    "ruairi_og",
    "@padraig_bristol",
    "nomvula.k",
    "@smudge_bs13",
    "keisha.b.bristol",
]
HANDLE_TEMPLATES = [
    "Message her on insta, she's <H>.",
    "His facebook is <H> if you need to reach him.",
    "Add <H> on snapchat, she checks it more than her phone.",
    "Follow <H> for the pantry updates.",
    "DM <H> about the spare cot.",
    "Her TikTok is <H>, she posts about the damp flat.",
]
SPELLED_EMAILS = [
    "sarah dot jones at gmail dot com",
    "kev dot m at hotmail dot co dot uk",
    "shaz1982 at yahoo dot com",
    "j dot okafor at outlook dot com",
    "tatenda at gmail dot com",
    "lowri.pugh at btinternet dot com",
    "dazza (at) live (dot) co (dot) uk",
    "keisha(at)gmail(dot)com",
    "ruairi dot byrne at icloud dot com",
    "temi at aol dot com",
    "xiaoling dot chen at qq dot com",
    "aoife at gmail.com",
    "sibusiso dot moyo at gmail dot com",
    "padraig AT hotmail DOT com",
    "marcel dot clarke at sky dot com",
    "nomvula underscore k at yahoo dot co dot uk",
]
SPELLED_TEMPLATES = [
    "Her email is <E> if you need to send the form.",
    "Email him on <E>, he doesn't answer his phone.",
    "Contact: <E>",
    "You can reach her at <E> about the cot.",
]
# Quasi-identifying but lawful detail that is NOT personal data in this set's sense: none. Phones etc. are covered
# by the original set (redaction_eval.jsonl); a few appear here beside names so the shapes mix.
MIXED_TEMPLATES = [
    "<G> on [PHONE:07700 900<d3>] needs the cooker fitting.",
    "Email [EMAIL:<g>.<s>@gmail.com] for the rota, says <G>.",
]


# Everything the issue itself names goes to the tuning half (the unit tests use it), never to the holdout.
FROM_THE_ISSUE = frozenset(
    [
        "Keisha",
        "Lowri",
        "Marcel",
        "Tatenda",
        "Sibusiso",
        "Temitope",
        "Ruairi",
        "Padraig",
        "Xiaoling",
        "Aoife",
        "Dazza",
        "Tel",
        "Jonesy",
        "Smudge",
        "Macca",
        "Kev",
        "Shaz",
        "Will",
        "Joy",
        "Patience",
        "Rose",
        "Sky",
        "Greggs",
        "Corsa",
        "shirley.b.bristol",
        "dazza_b2010",
        "WU19",
        "ABX",
        "BD51",
        "SMR",
    ]
    + ["St Michael's Hospital", "sarah dot jones at gmail dot com", "WU19 ABX", "BD51 SMR"]
)


def _halves(items: list) -> tuple[list, list]:
    """Tuning and holdout halves of a pool: the issue's own examples to tuning, the rest alternately."""
    named = [x for x in items if x in FROM_THE_ISSUE]
    rest = [x for x in items if x not in FROM_THE_ISSUE]
    tuning, holdout = list(named), []
    for x in rest:
        (tuning if len(tuning) <= len(holdout) else holdout).append(x)
    return tuning, holdout


def _people(half: int) -> tuple[list[tuple[str, str]], list[str]]:
    """(given, surname) pairs of one half; every given name of the half appears, surnames cycle."""
    pairs = []
    for given, surnames in HERITAGES.values():
        g = _halves(given)[half]
        s = _halves(surnames)[half]
        for i, name in enumerate(g):
            pairs.append((name, s[i % len(s)]))
    return pairs


def _fill(template: str, rng: random.Random, people: list, nicknames: list, words: list) -> str:
    def person() -> tuple[str, str]:
        return rng.choice(people)

    def sub(m: re.Match) -> str:
        slot = m.group(1)
        given, surname = person()
        if slot == "G":
            return f"[NAME:{given}]"
        if slot == "g":
            return f"[NAME:{given.lower()}]"
        if slot == "s":
            return f"[NAME:{surname.lower()}]"
        if slot == "S":
            return f"[NAME:{surname}]"
        if slot == "F":
            return f"[NAME:{given} {surname}]"
        if slot == "T":
            return f"[NAME:{rng.choice(['Mrs', 'Mr', 'Ms', 'Miss'])} {surname}]"
        if slot == "N":
            return f"[NAME:{rng.choice(nicknames)}]"
        if slot == "n":
            return f"[NAME:{rng.choice(nicknames).lower()}]"
        if slot == "W":
            return f"[NAME:{rng.choice(words)}]"
        raise KeyError(slot)

    out = re.sub(r"<([GgsSFTNnW])>", sub, template)
    # "Mrs <S>" / "Mr <S>" in a template: the title belongs to the name.
    return re.sub(r"\b(Mrs|Mr|Ms) \[NAME:", r"[NAME:\1 ", out)


def person_lines(half: int, rng: random.Random) -> list[str]:
    people = _people(half)
    nicknames = _halves(NICKNAMES)[half]
    words = _halves(NAME_WORDS)[half]
    templates = _halves(PERSON_TEMPLATES)[half]
    lines = []
    # Every given name of the half appears at least once as a capitalised <G>, so recall covers the whole pool.
    g_templates = [t for t in templates if "<G>" in t]
    for i, (given, surname) in enumerate(people):
        template = g_templates[i % len(g_templates)]
        line = _fill(template, rng, people, nicknames, words)
        lines.append(
            line.replace(line[line.index("[NAME:") : line.index("]", line.index("[NAME:")) + 1], f"[NAME:{given}]", 1)
        )
        if i % 3 == 0:  # every third surname as a full name too
            lines.append(_fill("Spoke to <F> at the hub about the rent.", rng, [(given, surname)], nicknames, words))
    for nick in nicknames:
        n_templates = [t for t in templates if "<N>" in t or "<n>" in t]
        line = _fill(rng.choice(n_templates), rng, people, [nick], words)
        lines.append(line)
    for word in words:
        w_templates = [t for t in templates if "<W>" in t]
        lines.append(_fill(rng.choice(w_templates), rng, people, nicknames, [word]))
    for template in templates:  # every template at least once more, with random fillers
        lines.append(_fill(template, rng, people, nicknames, words))
    return lines


def keep_lines(half: int, rng: random.Random) -> list[str]:
    pools = {slot: (kind, _halves(values)[half]) for slot, (kind, values) in KEEP_POOLS.items()}
    wordcap = _halves(WORDCAP)[half]
    templates = _halves(KEEP_TEMPLATES)[half]
    lines = []
    order = {slot: list(values) for slot, (_kind, values) in pools.items()}
    for values in order.values():
        rng.shuffle(values)

    def sub(m: re.Match) -> str:
        slot = m.group(1)
        if slot == "WORDCAP":
            return "{W:" + wordcap[rng.randrange(len(wordcap))] + "}"
        if slot == "word":
            return rng.choice(WORD)
        kind, values = pools[slot]
        if not order[slot]:
            order[slot] = list(values)
            rng.shuffle(order[slot])
        return "{" + kind + ":" + order[slot].pop() + "}"

    # Enough lines that every keep value of the half is used at least once.
    total = sum(len(v) for _k, v in pools.values()) + len(wordcap)
    i = 0
    while i < total or any(order[s] for s in order):
        lines.append(re.sub(r"<(SHOP|HOSP|CAR|FEST|DAY|AREA|SERV|WORDCAP|word)>", sub, templates[i % len(templates)]))
        i += 1
        if i > 400:
            break
    return lines


def structured_lines(half: int, rng: random.Random) -> list[str]:
    lines = []
    for pool, templates, slot, kind in (
        (VEHICLE_REGS, REG_TEMPLATES, "<REG>", "VEHICLE_REG"),
        (HANDLES, HANDLE_TEMPLATES, "<H>", "HANDLE"),
        (SPELLED_EMAILS, SPELLED_TEMPLATES, "<E>", "EMAIL"),
    ):
        values, tmpl = _halves(pool)[half], _halves(templates)[half]
        for i, value in enumerate(values):
            lines.append(tmpl[i % len(tmpl)].replace(slot, f"[{kind}:{value}]"))
    people = _people(half)
    for i, template in enumerate(MIXED_TEMPLATES):
        given, surname = people[(7 * i + half) % len(people)]
        line = template.replace("<d3>", f"{rng.randrange(1000):03d}").replace("<g>", given.lower())
        line = line.replace("<s>", surname.lower().replace("'", "")).replace("<G>", f"[NAME:{given}]")
        lines.append(line)
    return lines


TYPES = ["NAME", "PHONE", "EMAIL", "POSTCODE", "ADDRESS", "NI_NUMBER", "NHS_NUMBER", "DATE_OF_BIRTH", "CARD_NUMBER",
         "URL", "VEHICLE_REG", "HANDLE"]  # fmt: skip
KINDS = {"A": "area", "S": "service", "P": "shop", "H": "hospital", "C": "car", "F": "festival", "D": "day",
         "W": "word"}  # fmt: skip
MARK = re.compile(r"\[(?P<type>" + "|".join(TYPES) + r"):(?P<pii>[^\]]+)\]|\{(?P<kind>[ASPHCFDW]):(?P<keep>[^}]+)\}")


def parse(line: str) -> dict:
    text: list[str] = []
    pii, keep, pos = [], [], 0
    for m in MARK.finditer(line):
        text.append(line[pos : m.start()])
        start = sum(map(len, text))
        if m.group("type"):
            value = m.group("pii")
            pii.append({"type": m.group("type"), "start": start, "end": start + len(value), "text": value})
        else:
            value = m.group("keep")
            keep.append({"kind": KINDS[m.group("kind")], "start": start, "end": start + len(value), "text": value})
        text.append(value)
        pos = m.end()
    text.append(line[pos:])
    return {"text": "".join(text), "pii": pii, "keep": keep}


def build() -> list[dict]:
    records = []
    for half, split in enumerate(("tuning", "holdout")):
        rng = random.Random(SEED + half)  # noqa: S311 - building a test set, not security
        lines = person_lines(half, rng) + keep_lines(half, rng) + structured_lines(half, rng)
        for number, line in enumerate(lines, 1):
            record = {"id": f"{split}-{number:03d}", "split": split, **parse(line)}
            for span in record["pii"] + record["keep"]:
                assert record["text"][span["start"] : span["end"]] == span["text"], (line, span)
            assert "[NAME:" not in record["text"], line
            assert "{" not in record["text"], line
            records.append(record)
    return records


def summary(records: list[dict]) -> str:
    out = []
    for split in ("tuning", "holdout"):
        sub = [r for r in records if r["split"] == split]
        names = {p["text"] for r in sub for p in r["pii"] if p["type"] == "NAME"}
        keeps = {k["text"] for r in sub for k in r["keep"]}
        counts: dict[str, int] = {}
        for r in sub:
            for p in r["pii"]:
                counts[p["type"]] = counts.get(p["type"], 0) + 1
        n_keep = sum(len(r["keep"]) for r in sub)
        out.append(f"{split}: {len(sub)} texts, {len(names)} distinct names, {counts}, {n_keep} keep spans "
                   f"({len(keeps)} distinct)")  # fmt: skip
    return "\n".join(out)


if __name__ == "__main__":
    records = build()
    target = HERE / "redaction_hard.jsonl"
    with target.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(summary(records))
    print(f"-> {target}")
