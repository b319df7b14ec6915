# gen-stories.awk — write simple children's stories in the style of
# TinyStories: one story per paragraph (one line), a blank line between
# stories. The same seed gives the same bytes with any POSIX awk (mawk and
# gawk are checked): the generator is its own integer LCG, not rand().
#
#   awk -v seed=1 -v stories=1500 -f samples/gen-stories.awk > stories.txt
#
# seed: a non-negative integer (default 1); stories: how many (default 100).
# The vocabulary is a few hundred words, so a byte-level BPE vocabulary of
# 512-1024 tokens covers it well and a tiny model can learn it in minutes.

# ---- the generator ---------------------------------------------------------

# Park-Miller "minimal standard" LCG with multiplier 48271: the state stays
# in [1, 2^31-2] and every product is below 2^47, exact in a double.
function rnd(n) {
    R = (R * 48271) % 2147483647
    return int(R / 2147483647 * n)
}

# ch("a|b|c"): one of the alternatives.
function ch(s,    a, n) {
    n = split(s, a, "|")
    return a[rnd(n) + 1]
}

# pick from a word list stored as W[name, i], i = 1..N[name]
function pk(name) { return W[name, rnd(N[name]) + 1] }

# an activity: Ai "climb trees", Ap "climbed trees"
function act(    k) { k = rnd(N["play"]) + 1; Ai = W["play", k]; Ap = W["played", k] }

# pick one that is not `not` (the lists have at least two words)
function pkx(name, not,    w) {
    do w = pk(name); while (w == not)
    return w
}

function words(name, s,    a, n, j) {
    n = split(s, a, " ")
    for (j = 1; j <= n; j++) W[name, j] = a[j]
    N[name] = n
}

function cap(s) { return toupper(substr(s, 1, 1)) substr(s, 2) }

# "a" or "an" before a word
function an(w) { return (w ~ /^[aeiou]/ ? "an " : "a ") w }

function add(s) { T = T (T == "" ? "" : " ") s }

# ---- the people in a story -------------------------------------------------

# Who: a girl, a boy or an animal with a name. Sets the X* variables;
# who() then copies them to the hero or the friend.
function person(notname,    k) {
    k = rnd(10)
    if (k < 4) {
        Xn = pkx("girl", notname); Xs = "she"; Xo = "her"; Xp = "her"; Xk = "girl"
    } else if (k < 8) {
        Xn = pkx("boy", notname); Xs = "he"; Xo = "him"; Xp = "his"; Xk = "boy"
    } else {
        Xk = pk("animal")
        if (rnd(2)) { Xn = pkx("girl", notname); Xs = "she"; Xo = "her"; Xp = "her" }
        else { Xn = pkx("boy", notname); Xs = "he"; Xo = "him"; Xp = "his" }
    }
    Xa = pk("trait")
    Xi = an(Xa) " " (Xk == "girl" || Xk == "boy" ? ch("little |") : "") Xk " named " Xn
}

function hero() { person(""); H = Xn; Hs = Xs; Ho = Xo; Hp = Xp; Hk = Xk; Ha = Xa; Hi = Xi }
function friend() { person(H); F = Xn; Fs = Xs; Fo = Xo; Fp = Xp; Fk = Xk; Fa = Xa; Fi = Xi }

# A grown-up who helps: Mom, Dad, Grandma, Grandpa (used as names).
function grownup(    k) {
    k = rnd(4)
    if (k == 0) { P = "Mom"; Ps = "she"; Pp = "her" }
    else if (k == 1) { P = "Dad"; Ps = "he"; Pp = "his" }
    else if (k == 2) { P = "Grandma"; Ps = "she"; Pp = "her" }
    else { P = "Grandpa"; Ps = "he"; Pp = "his" }
}

function thing() { Oa = pk("color"); O = pk("toy"); Of = Oa " " O }

function place(    k) {
    k = rnd(N["place"]) + 1
    L = W["place", k]; Lat = W["placeat", k] " the " L
}

# ---- sentences that many stories share -------------------------------------

# "One day," unless the opener already told which day it was
function day(alts) { return OD ? ch("That day,|Then,|Soon,") : ch(alts) }

function opener(    k) {
    k = rnd(6)
    OD = (k == 4)
    if (k == 0) add("Once upon a time, there was " Hi ".")
    else if (k == 1) add("Once upon a time, " Hi " lived in " ch("a small house|a little town|a big house|a small village|a house near the woods") ".")
    else if (k == 2) add("Once there was " Hi ".")
    else if (k == 3) add("There was once " Hi ".")
    else if (k == 4) add("One " ch("sunny|bright|warm|cold|windy|rainy") " " ch("day|morning|afternoon") ", " Hi " " ch("woke up early|went outside|wanted to play|was very bored") ".")
    else add("In a " ch("small|quiet|pretty|busy") " " ch("town|village|house") ", there lived " Hi ".")
    if (rnd(3) == 0) add(cap(Hs) " was " ch("very|always|so") " " Ha ".")
}

function loves(    k) {
    k = rnd(4)
    if (k == 0) add(cap(Hs) " loved to " pk("play") ".")
    else if (k == 1) add(cap(Hs) " liked to " pk("play") " with " Hp " " ch("friends|mom|dad|family|sister|brother") ".")
    else if (k == 2) add("Every day, " H " " ch("liked|loved|wanted") " to " pk("play") ".")
    else add(H " had " an(Of) ". " cap(Hs) " loved " Hp " " O " very much.")
}

function oneday() {
    add(day("One day,|One day,|One morning,|Then, one day,|The next day,|After lunch,") " " H " " ch("went to|walked to|ran to|went with " Hp " mom to|went with " Hp " dad to") " the " L ".")
}

function sad(who, s) {
    add(ch(cap(s) " was very sad.|" cap(who) " felt sad.|" cap(who) " started to cry.|" cap(s) " felt sad and " ch("lonely|upset|worried") ".|" cap(who) " did not know what to do."))
}

function happy(who, s, p) {
    add(ch(cap(who) " was so happy!|" cap(s) " smiled a big smile.|" cap(who) " jumped up and down.|" cap(s) " felt very happy.|" cap(who) " was very glad.|" cap(s) " laughed and clapped " p " hands."))
}

function thanks(who, to) {
    add(ch("\"Thank you, " to "!\" said " who ".|" who " said, \"Thank you, " to "! You are a good friend.\"|" who " hugged " to " and said, \"Thank you!\"|\"Thank you so much,\" " who " said to " to "."))
}

function ending(    k) {
    k = rnd(7)
    if (k == 0) add("From that day on, " H " and " F " were best friends.")
    else if (k == 1) add("And they all lived happily ever after.")
    else if (k == 2) add("The end.")
    else if (k == 3) add("It was the best day ever.")
    else if (k == 4) add("That night, " H " went to bed with a big smile.")
    else if (k == 5) add(H " and " F " played " ch("until the sun went down|all day long|together every day after that") ".")
    else add(cap(Hs) " would never forget this " ch("day|fun day|happy day") ".")
}

# ---- the stories -----------------------------------------------------------

# 1. A toy is lost, a friend helps to find it.
function s_lost(    where, found) {
    thing(); place(); friend()
    opener()
    add(H " had " an(Of) ". " cap(Hs) " " ch("loved it very much|took it everywhere|played with it every day") ".")
    oneday()
    add(cap(Hs) " played with " Hp " " O " " Lat ".")
    where = rnd(4)
    if (where == 0 && O ~ /^(kite|balloon|hat|book|blanket)$/) add("But then the wind blew hard, and the " O " flew away!")
    else if (where == 0) add("But then a big " ch("dog|goat|bird") " came and took the " O " away!")
    else if (where == 1) add("Then " H " " ch("put it down|left it on the grass|dropped it") " to " pk("play") ". When " Hs " came back, the " O " was gone!")
    else if (where == 2) add("The " O " fell into a big hole. " H " could not reach it.")
    else add(H " looked everywhere, but " Hs " could not find " Hp " " O ".")
    sad(H, Hs)
    add("Then " H " saw " Fi ".")
    add("\"Why are you sad?\" " ch("asked|said") " " F ".")
    add("\"I lost my " Of ",\" said " H ". \"Can you help me find it?\"")
    add(ch("\"Yes, I will help you!\" said " F ".|" F " said, \"Of course! Let's look together.\"|" F " smiled and said, \"Don't worry. I will help.\""))
    found = ch("under a big tree|behind a rock|in the tall grass|next to the pond|under a bush|on top of a hill")
    add("They looked " ch("and looked|for a long time|everywhere") ". At last, " F " found the " O " " found ".")
    happy(H, Hs, Hp)
    thanks(H, F)
    if (rnd(2)) add(ch("Then they played with the " O " together.|They played together all day.|Now " H " had " Hp " " O " back and a new friend too."))
    ending()
}

# 2. Sharing: the hero will not share, then does.
function s_share(    ) {
    thing(); place(); friend()
    opener()
    add(H " had " an(Of) ". " cap(Hs) " " ch("loved it very much|thought it was the best toy ever|did not want anyone else to touch it") ".")
    oneday()
    add(cap(Hs) " " ch("took|brought") " " Hp " " O ". There " Hs " met " Fi ".")
    add("\"Can I play with your " O "?\" " F " asked.")
    add(ch("\"No! It is mine!\" said " H ".|" H " held the " O " close and said, \"No, it is my " O ".\"|\"No,\" said " H ". \"I want to play with it by myself.\""))
    sad(F, Fs)
    add(ch("Soon, " H " did not have fun playing alone.|" H " played alone, but it was not fun.|" H " looked at " F " and felt bad."))
    if (rnd(2)) { grownup(); add(P " saw what happened. \"" ch("Sharing is caring|It is nice to share|Playing is more fun with a friend") "," "\" " Ps " said.") }
    add(H " walked to " F " and said, \"I am sorry. " ch("Do you want to play with my " O "?|Let's play with my " O " together.|You can have a turn.") "\"")
    add(F " " ch("smiled|was happy|nodded") ". \"" ch("Yes, please!|Thank you!|That would be fun!") "\"")
    act(); add("They " Ap " together and had " ch("lots of|so much|a lot of") " fun.")
    add(H " learned that " ch("sharing is good|it is more fun to share|sharing makes friends happy") ".")
    ending()
}

# 3. Fear: the hero is scared, a grown-up or a friend helps to be brave.
function s_fear(    k, fear, try, good) {
    place(); friend(); grownup()
    k = rnd(6)
    if (k == 0) { fear = "the dark"; try = "turned off the light"; good = "The dark was not so scary after all. " cap(Hs) " could see the moon and the stars from " Hp " window." }
    else if (k == 1) { fear = "the big slide"; try = "climbed up the big slide and went down fast"; good = "Whee! It was so much fun! " cap(Hs) " wanted to go again and again." }
    else if (k == 2) { fear = "the water"; try = "put " Hp " feet in the water and then jumped in"; good = "The water was cool and nice. " cap(Hs) " splashed and laughed." }
    else if (k == 3) { fear = "the loud thunder"; try = "held " Hp " teddy bear and listened to the rain"; good = "Soon the storm went away, and the sun came out again." }
    else if (k == 4) { fear = "the big dog next door"; try = "held out " Hp " hand to the dog"; good = "The dog wagged its tail and licked " Hp " hand. It was a friendly dog!" }
    else { fear = "riding " Hp " new bike"; try = "got on the bike and pushed the pedals"; good = "At first it was hard, but then " Hs " could ride all by " (Hs == "she" ? "herself" : "himself") "!" }
    opener()
    add("But " H " was " ch("scared of|afraid of") " " fear ".")
    add(ch("Every time " Hs " thought about it, " Hs " felt scared.|" cap(Hs) " did not like " fear " at all.|" cap(Hs) " always ran away from " fear "."))
    add(day("One day,|One evening,|One afternoon,") " " P " saw that " H " was scared.")
    add("\"What is wrong, " H "?\" " P " asked.")
    add("\"I am scared of " fear ",\" said " H ".")
    add(P " " ch("gave " Ho " a hug|smiled|held " Hp " hand") " and said, \"" ch("You are braver than you think.|It is okay to be scared. I am here with you.|Let's try together. I know you can do it.|Be brave, my little one.") "\"")
    add(H " took a deep breath. Then " Hs " " try ".")
    add(good)
    add(ch("\"I did it!\" " H " shouted.|\"I am not scared anymore!\" said " H ".|\"Look at me!\" said " H ".") )
    add(P " was very proud of " Ho ".")
    if (rnd(2)) add("From that day on, " H " was not scared of " fear " anymore.")
    else add(H " learned that being brave " ch("can be fun|is good|helps you try new things") ".")
}

# 4. Helping an animal in trouble.
function s_help(    a, k, trouble, fix) {
    place(); friend(); thing()
    a = pkx("animal", Hk)
    opener()
    loves()
    oneday()
    k = rnd(5)
    if (k == 0) { trouble = "was stuck in a tree"; fix = H " climbed up slowly and helped the " a " get down" }
    else if (k == 1) { trouble = "had a hurt leg"; fix = H " put a soft leaf on its leg and gave it some water" }
    else if (k == 2) { trouble = "could not find its mom"; fix = H " and the " a " looked together until they found its mom" }
    else if (k == 3) { trouble = "was very hungry"; fix = H " gave the " a " some " pk("food") }
    else { trouble = "was stuck in the mud"; fix = H " pulled and pulled until the " a " was free" }
    add("There, " Hs " " ch("saw|found|heard") " " an(ch("little |small |tiny |") a) ". The " a " " trouble ".")
    add("\"" ch("Oh no!|Poor " a "!|Don't worry!") "\" said " H ". \"" ch("I will help you.|Let me help you.|I can help.") "\"")
    add(fix ".")
    add("The " a " was " ch("happy|very happy|so glad") ". " ch("It said, \"Thank you, " H "!\"|It looked at " H " and smiled.|It jumped up and down with joy."))
    add(ch("The " a " and " H " became good friends.|After that, the " a " came to see " H " every day.|" H " felt warm and happy inside."))
    if (rnd(2)) add(H " learned that " ch("helping others feels good|it is good to be kind|being kind makes you happy") ".")
    else add(ch("The end.|It was a good day.|And they played together every day after that."))
}

# 5. Making something with a grown-up; a small mess, then a happy end.
function s_make(    k, what, say, how, oops) {
    grownup(); friend()
    k = rnd(4)
    if (k == 0) { what = "a cake"; how = "They put in flour, eggs, milk and sugar. " H " mixed it with a big spoon"; oops = "the flour went all over the floor" }
    else if (k == 1) { what = "cookies"; how = "They made the dough and cut it into little stars and hearts"; oops = H " ate some of the dough when no one was looking" }
    else if (k == 2) { what = "a picture for " Hp " friend " F; say = "a picture for my friend " F; how = H " used red, blue and yellow crayons to draw a house, a tree and the sun"; oops = "some paint spilled on the table" }
    else { what = "a sand castle"; how = "They filled a bucket with wet sand and made tall towers"; oops = "a big wave came and washed one tower away" }
    if (say == "") say = what
    opener()
    add(day("One day,|One morning,|On a rainy day,") " " H " wanted to make " what " with " P ".")
    add(ch("\"Can we make " say ", please?\" " H " asked.|\"Let's make " say "!\" said " H ".|\"Can you help me make " say "?\" " H " asked."))
    add("\"" ch("Yes, we can!|That is a good idea!|Of course!") "\" said " P ".")
    add(how ".")
    add("But then " oops ". " ch("\"Oh no!\" said " H ".|" H " was sad.|" H " looked at " P ".") )
    add(P " " ch("laughed|smiled") ". \"" ch("It is okay. We can fix it.|Don't worry, we can make more.|Accidents happen. Let's try again.") "\"")
    add("So they " ch("cleaned up and tried again|worked together|fixed it together") ".")
    add(ch("At last, " what " was ready.|Soon, it was all done.|In the end, it was the best one ever."))
    if (k == 2) add(H " gave the picture to " F ". " F " was so happy and put it on the wall.")
    else add(H " and " P " " ch("shared it with " Hp " friend " F "|showed it to everyone|were very proud") ".")
    happy(H, Hs, Hp)
}

# 6. A trip, the weather changes, the fun goes on.
function s_trip(    ) {
    place(); friend(); grownup()
    opener()
    add(day("One day,|One sunny morning,|On Saturday,") " " P " said, \"Let's go to the " L " today!\"")
    add(H " was " ch("so excited|very happy|excited") ". " cap(Hs) " " ch("put on " Hp " " pk("color") " hat|packed " Hp " " pk("toy") "|brought some " pk("food")) ".")
    act(); add("At the " L ", " H " met " Fi ". They " Ap " together.")
    add(ch("Then the sky turned gray.|Then big dark clouds came.|But then the wind started to blow.") " " ch("Soon, it started to rain.|Drops of rain fell on their heads.|It began to rain hard."))
    add("\"" ch("Oh no! Our fun day is over!|I don't want to go home!|What do we do now?") "\" said " H ".")
    add(P " " ch("smiled|laughed") ". \"" ch("We can play inside.|Let's wait under the big tree.|Rain can be fun too!") "\"")
    add(ch("They jumped in the puddles and laughed.|They sat under the tree and told stories.|They went home and built a fort with blankets.|They drank warm milk and played a game."))
    add(ch("Soon, the rain stopped and they saw a big rainbow in the sky.|It was still a fun day.|" H " learned that a rainy day can be a happy day too."))
    ending()
}

# 7. Wanting something, trying, asking for help, patience.
function s_want(    k, want, prob, Q, Qs) {
    place(); friend(); grownup()
    k = rnd(4)
    if (k == 0) { want = "a red apple"; prob = "The apple was high up in a tree, and " H " was too small to reach it" }
    else if (k == 1) { want = "a cookie"; prob = "The cookie jar was on a high shelf, and " H " could not reach it" }
    else if (k == 2) { want = "a shiny " pk("toy"); prob = "It was in the store window, and " H " did not have any money" }
    else { want = "to fly a kite"; prob = "There was no wind, and the kite would not go up" }
    opener()
    if (k == 1) add(day("One day,") " " H " was " ch("hungry|very hungry|home with " P) ".")
    else if (k == 2) add(day("One day,|One morning,") " " H " went to the store with " P ".")
    else oneday()
    add(H " wanted " want " " ch("very much|so much|more than anything") ".")
    add(prob ".")
    add(cap(Hs) " tried and tried, but " ch("it did not work|" Hs " could not do it|nothing happened") ".")
    add(ch(cap(Hs) " felt sad.|" H " was upset.|" H " sat down and frowned."))
    if (k < 2 && rnd(2)) { Q = F; Qs = Fs } else { Q = P; Qs = Ps }
    add(ch("Then " Q " came by.|Then " Q " came to " Ho ".|Then " Q " saw " Ho ".") " \"" ch("What is wrong?|Why are you sad?|What happened?") "\"")
    add("\"I want " want ", but I can't,\" said " H ".")
    if (k == 2) add("\"If you help at home, you can save money for it,\" said " P ". " H " helped every day. After many days, " Hs " had enough money, and " Hs " got " want "!")
    else if (k == 3) add("\"Let's wait a little,\" said " P ". They sat on the grass. Soon the wind came, and the kite flew high in the sky!")
    else add("\"I can help you,\" said " Q ". " ch(Q " was taller, so " Qs " got it down.|" Q " held " H " up high, and " H " got it.|" Q " brought a little chair, and " H " stood on it.") " " H " shared it with " Q ".")
    happy(H, Hs, Hp)
    if (k >= 2) add(H " learned that " ch("good things come to those who wait|it is good to be patient|waiting can be hard, but it is worth it") ".")
    else add(H " learned that " ch("it is good to ask for help|friends help each other|it is okay to ask for help") ".")
}

# 8. Something breaks; telling the truth.
function s_broke(    k, it, yours, how) {
    grownup(); friend(); thing()
    k = rnd(4)
    if (k == 0) { it = P "'s favorite cup"; yours = "your favorite cup"; how = "knocked " it " off the table" }
    else if (k == 1) { it = "the big vase"; yours = it; how = "hit " it " with " Hp " ball" }
    else if (k == 2) { it = Hp " friend " F "'s " O; yours = "your " O; how = "dropped " it " on the floor" }
    else { it = "the window"; yours = it; how = "threw " Hp " ball too hard at " it }
    opener()
    add(day("One day,|One afternoon,|One morning,") " " H " was playing " ch("in the house|in the living room|in the kitchen|near the house") ".")
    add("By accident, " Hs " " how ", and it broke!")
    add(H " was " ch("scared|worried|very scared") ". " ch("\"What will " P " say?\" " Hs " thought.|" cap(Hs) " wanted to hide.|" cap(Hs) " did not want to get in trouble."))
    add(ch("But " H " knew it was good to tell the truth.|Then " H " thought about it and knew what to do.|" H " took a deep breath."))
    if (k == 2) add(cap(Hs) " went to " F " and said, \"I am sorry. I broke " yours ".\"")
    else add(cap(Hs) " went to " P " and said, \"I am sorry. I broke " yours ".\"")
    if (k == 2) { add(F " was sad, but " Fs " said, \"Thank you for telling me. We can fix it.\""); add("They fixed the " O " with some glue, and it was as good as new.") }
    else { add(P " " ch("hugged " Ho "|smiled|was not angry") ". \"Thank you for telling the truth, " H ". " ch("I am proud of you.|Things can break. You are more important.|Next time, please play outside.") "\""); add("They " ch("cleaned up together|fixed it together with some glue|went outside to play") ".") }
    add(H " felt " ch("much better|happy again|light and happy") ". " cap(Hs) " learned that " ch("telling the truth is always best|it is good to be honest|saying sorry makes things better") ".")
}

# 9. A new friend.
function s_new(    game) {
    place(); friend()
    game = ch("hide and seek|tag|catch|a game with a ball|jump rope")
    opener()
    add(ch("But " H " was new in town and did not have any friends.|But " H " was lonely. " cap(Hs) " had no one to play with.|" H " wanted a friend to play with."))
    oneday()
    add(cap(Hs) " saw " Fi " " ch("sitting alone|playing by " (Fs == "she" ? "herself" : "himself") "|looking at the sky") ".")
    add(H " " ch("was shy, but " Hs " walked over|walked up to " Fo "|waved") ". \"Hi! My name is " H ". What is your name?\"")
    add("\"" ch("I am|My name is") " " F ",\" " ch("said " F " with a smile|said " F "|" F " said softly") ". \"" ch("Do you want to play?|Will you be my friend?|Do you like to play " game "?") "\"")
    add("\"Yes!\" said " H ". They played " game " " ch("all afternoon|for a long time|until it was time to go home") ".")
    add(ch(F " " ch("laughed|smiled") " and " H " laughed too.|They had so much fun together.|Soon they were laughing and running."))
    add("When it was time to go, " F " said, \"" ch("Can we play again tomorrow?|See you tomorrow, friend!|You are my best friend.") "\"")
    add(H " " ch("nodded|smiled|said yes") ". " cap(Hs) " was not lonely anymore.")
    ending()
}

# 10. A race or a game; someone falls; they help each other.
function s_race(    ) {
    place(); friend()
    opener()
    add(H " and " F " were " ch("best friends|good friends|friends") ". They liked to " pk("play") " " Lat ".")
    add(day("One day,|One sunny day,|After school,") " " F " said, \"Let's have a race to the " ch("big tree|old fence|red gate|top of the hill") "!\"")
    add("\"Okay!\" said " H ". \"" ch("Ready, set, go!|One, two, three, go!") "\"")
    add("They ran " ch("very fast|as fast as they could|fast like the wind") ". " H " was " ch("winning|in front") ", but then " F " " ch("tripped on a rock|fell down|slipped on the grass") ".")
    add("\"Ouch!\" " F " cried. " cap(Fs) " had a " ch("scraped|hurt|sore") " knee.")
    add(H " " ch("stopped|did not keep running|turned around") ". " cap(Hs) " ran back to help " Fo ". \"Are you okay?\" " Hs " asked.")
    add(H " helped " F " get up, and they walked " ch("to the finish together|home slowly|to the bench and sat down") ".")
    add(F " said, \"Thank you, " H ". You are a true friend.\"")
    add(H " learned that " ch("friends are more important than winning|helping a friend is the best way to win|being kind is better than being first") ".")
}

function story(    k) {
    T = ""
    hero()
    k = rnd(10)
    if (k == 0) s_lost(); else if (k == 1) s_share(); else if (k == 2) s_fear()
    else if (k == 3) s_help(); else if (k == 4) s_make(); else if (k == 5) s_trip()
    else if (k == 6) s_want(); else if (k == 7) s_broke(); else if (k == 8) s_new()
    else s_race()
    return T
}

BEGIN {
    if (seed == "") seed = 1
    if (stories == "") stories = 100
    if (seed !~ /^[0-9]+$/ || stories !~ /^[0-9]+$/) {
        print "gen-stories.awk: seed and stories must be non-negative integers" > "/dev/stderr"
        exit 2
    }
    R = (seed + 0) % 2147483646 + 1
    for (i = 0; i < 8; i++) rnd(2)

    words("girl", "Lily Mia Sue Anna Emma Zoe Lucy Amy Kate Ella")
    words("boy", "Tom Ben Max Sam Tim Jack Leo Bob Joe Jake")
    words("animal", "cat dog bunny bird bear frog duck fox mouse puppy kitten owl squirrel pig cow sheep lion monkey elephant turtle")
    words("trait", "happy kind curious brave shy silly friendly sweet funny smart gentle playful cheerful")
    words("color", "red blue green yellow pink purple orange big small shiny soft new little")
    words("toy", "ball kite car doll teddy boat drum truck hat book balloon train robot blanket bucket")
    words("food", "bread berries seeds apples carrots corn nuts grapes")
    # what children do: "play" holds the verb phrases, "played" the same
    # in the past tense, split on "|"
    N["play"] = split("run|jump|dance|sing|draw|swim|climb trees|play outside|read books|play with blocks|look at the clouds|ride a bike|pick flowers|build things|play games|sing songs|play ball|fly kites", pa, "|")
    N["played"] = split("ran|jumped|danced|sang|drew|swam|climbed trees|played outside|read books|played with blocks|looked at the clouds|rode a bike|picked flowers|built things|played games|sang songs|played ball|flew kites", pb, "|")
    for (i = 1; i <= N["play"]; i++) { W["play", i] = pa[i]; W["played", i] = pb[i] }
    words("place", "park garden forest beach farm playground zoo lake field yard river meadow")
    words("placeat", "at in in at on at at by in in by in")

    for (i = 1; i <= stories; i++) {
        if (i > 1) print ""
        print story()
    }
}
