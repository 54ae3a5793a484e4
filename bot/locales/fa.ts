import type { UserSettings } from '../services/settings';
import type { UserUsage } from '../services/usage';
import type { Messages } from './en';

/** `۳ ساعت و ۲۰ دقیقه`, or `۴۵ دقیقه`. */
function formatDurationFa(minutes: number): string {
  const hours = Math.floor(minutes / 60);
  const rest = toPersianDigits(minutes % 60);
  return hours === 0 ? `${toPersianDigits(minutes)} دقیقه` : `${toPersianDigits(hours)} ساعت و ${rest} دقیقه`;
}

/** `۴۵ ثانیه`, `۳ دقیقه و ۲۰ ثانیه`, or `۳۰ دقیقه`. */
function formatSecondsFa(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes === 0) return `${toPersianDigits(rest)} ثانیه`;
  return rest === 0
    ? `${toPersianDigits(minutes)} دقیقه`
    : `${toPersianDigits(minutes)} دقیقه و ${toPersianDigits(rest)} ثانیه`;
}

/** Persian interface texts (right-to-left; digits are written in Persian). */
export const fa: Messages = {
  start: (name: string) =>
    `سلام ${name}! من یک دستیار هوش مصنوعی هستم. پیامت را بفرست تا جواب بدهم؛ گفت‌وگوی‌مان را به خاطر می‌سپارم.\n\n` +
    'دستورها:\n/translate <زبان> — ترجمهٔ خط‌های یک پیام (یا پیامی که به آن پاسخ می‌دهی)\n' +
    '/reset — فراموش کردن گفت‌وگو\n/help — راهنما',
  help:
    'هر متنی بفرستی جواب می‌دهم و پیام‌های قبلی‌مان را در نظر می‌گیرم.\n' +
    'در گروه‌ها، مرا منشن کن یا به پیامم پاسخ بده.\n\n' +
    '/translate <زبان> — ترجمهٔ خط به خط. خط‌ها را زیر دستور بنویس، یا روی یک پیام با /translate en پاسخ بده.\n' +
    '/new — شروع گفت‌وگوی تازه (/reset همین را بی‌درنگ انجام می‌دهد)\n/reset — فراموش کردن گفت‌وگو و شروع دوباره\n' +
    '/settings — سبک پاسخ، دستورالعمل دلخواه، مدل، زبان و نمایش زنده\n/export — گفت‌وگوی‌مان به صورت فایل مارک‌داون\n' +
    '/usage — مصرف امروزت و آنچه مانده\n/stats — آمار مصرف و سهمیه (فقط مدیران)\n\n' +
    'زیر هر پاسخ: 🔄 پاسخ تازه به همان پرسش، ▶️ ادامهٔ پاسخی که نیمه ماند، ⏹ توقف پاسخی که در حال نوشتن است.',
  commands: {
    start: 'شروع و معرفی',
    help: 'راهنمای ربات',
    reset: 'فراموش کردن گفت‌وگو',
    new: 'شروع گفت‌وگوی تازه',
    usage: 'مصرف امروزت و آنچه مانده',
    settings: 'سبک پاسخ، مدل، زبان، نمایش زنده',
    export: 'گفت‌وگوی‌مان به صورت فایل مارک‌داون',
    translate: 'ترجمهٔ خط‌ها: ‎/translate <زبان>',
    stats: 'آمار و سهمیه (مدیران)',
  },
  resetDone: 'انجام شد — گفت‌وگوی‌مان را فراموش کردم. از چه حرف بزنیم؟',
  newConversation: {
    started: 'گفت‌وگوی تازه شروع شد — قبلی را فراموش کردم. از چه حرف بزنیم؟',
    confirm: (messages: number) =>
      `گفت‌وگوی‌مان ${toPersianDigits(messages)} پیام دارد. گفت‌وگوی تازه شروع کنیم؟ این یکی را فراموش می‌کنم.`,
    yes: 'بله، از نو',
    no: 'نه، نگهش دار',
    kept: 'گفت‌وگوی‌مان را نگه داشتم. ادامه بده!',
  },
  buttons: {
    expired: 'این دکمه دیگر کار نمی‌کند.',
    notYours: 'این دکمه مال کسی است که پرسید.',
    alreadyDone: 'انجام شده است.',
  },
  settings: {
    title: '⚙️ تنظیمات تو',
    summary: (settings: UserSettings, streamingDefault: boolean) =>
      [
        `سبک پاسخ: ${settings.customPrompt !== undefined ? 'دستورالعمل دلخواه' : fa.settings.personas[settings.persona ?? 'default']}`,
        `مدل: ${fa.settings.models[settings.model]}`,
        `زبان: ${settings.language === undefined ? 'خودکار' : fa.settings.languages[settings.language]}`,
        `نمایش زنده: ${(settings.streaming ?? streamingDefault) ? 'روشن' : 'خاموش'}`,
      ].join('\n'),
    customShown: (prompt: string) => `دستورالعمل دلخواه تو:\n«${prompt}»`,
    promptHint: (max: number) =>
      `دستورالعمل دلخواه: ‎/settings prompt <متن> (حداکثر ${toPersianDigits(max)} نویسه). جای سبک پاسخ را می‌گیرد؛ انتخاب یک سبک آن را برمی‌دارد.`,
    personas: {
      default: 'پیش‌فرض',
      concise: 'کوتاه',
      detailed: 'مفصل',
      teacher: 'معلم',
      translator: 'مترجم',
      code: 'دستیار برنامه‌نویسی',
    },
    models: { auto: 'انتخاب خودکار', fast: 'سریع', smart: 'هوشمند' },
    languages: { en: 'English', fa: 'فارسی' },
    languageAuto: 'خودکار',
    streamingOn: 'نمایش زنده: روشن',
    streamingOff: 'نمایش زنده: خاموش',
    reset: 'بازنشانی همه',
    saved: 'ذخیره شد.',
    unavailable: 'الان به حافظهٔ تنظیمات دسترسی ندارم. لطفاً یک دقیقهٔ دیگر دوباره امتحان کن.',
    promptSaved: (prompt: string) =>
      `ذخیره شد. در پاسخ‌هایم از این دستورالعمل پیروی می‌کنم:\n«${prompt}»\n\nبرای برگشتن به یک سبک آماده، در ‎/settings یک سبک انتخاب کن.`,
    promptTooLong: (length: number, max: number) =>
      `این دستورالعمل خیلی طولانی است (${toPersianDigits(length)} نویسه؛ حداکثر ${toPersianDigits(max)}). لطفاً کوتاهش کن.`,
    promptEmpty: (max: number) =>
      `دستورالعمل را بعد از دستور بنویس، مثلاً\n‎/settings prompt مثل یک دزد دریایی جواب بده.\n(حداکثر ${toPersianDigits(max)} نویسه.)`,
    promptInvalid: 'این دستورالعمل نویسه‌های کنترلی دارد که نمی‌توانم ذخیره کنم. لطفاً متن ساده بفرست.',
    noPrompt: 'دستورالعمل دلخواهی نداری. با ‎/settings prompt <متن> تنظیمش کن.',
  },
  answerButtons: {
    regenerate: '🔄 پاسخ دوباره',
    continue: '▶️ ادامه',
    stop: '⏹ توقف',
    writing: '✍️ در حال نوشتن… برای پایان دادن به پاسخ در همین‌جا «توقف» را بزن.',
    stopped: 'متوقف شد.',
    stoppedNote: '⏹ (متوقف شد)',
    finished: 'این پاسخ دیگر تمام شده است.',
    old: 'این پاسخ دیگر آخرین پاسخ نیست، پس این دکمه کاری نمی‌کند.',
    working: 'در حال انجام…',
    limited: 'فعلاً به سقف استفاده‌ات رسیدی: ‎/usage را ببین.',
    unavailable: 'الان به گفت‌وگوی‌مان دسترسی ندارم. لطفاً یک دقیقهٔ دیگر دوباره امتحان کن.',
  },
  export: {
    empty: 'هنوز چیزی برای خروجی گرفتن نیست: گفت‌وگوی‌مان خالی است.',
    unavailable: 'الان به گفت‌وگوی‌مان دسترسی ندارم. لطفاً یک دقیقهٔ دیگر دوباره امتحان کن.',
    caption: (messages: number) => `گفت‌وگوی‌مان: ${toPersianDigits(messages)} پیام.`,
    title: 'گفت‌وگو با Switchboard',
    exported: (date: string) => `خروجی گرفته‌شده در ${date} (UTC)`,
    you: 'تو',
    assistant: 'دستیار',
  },
  usage: {
    report: (usage: UserUsage) =>
      [
        `امروز: ${toPersianDigits(usage.requestsToday)} درخواست` +
          (usage.dailyLimit > 0
            ? ` از ${toPersianDigits(usage.dailyLimit)} — ${toPersianDigits(Math.max(0, usage.dailyLimit - usage.requestsToday))} تا مانده.`
            : ' (بدون سقف روزانه).'),
        usage.perMinute > 0
          ? `این دقیقه: ${toPersianDigits(usage.requestsThisMinute)} از ${toPersianDigits(usage.perMinute)}.`
          : 'سقف دقیقه‌ای ندارد.',
        `عکس، پیام صوتی و فایل امروز: ${toPersianDigits(usage.mediaToday)}` +
          (usage.mediaLimit > 0 ? ` از ${toPersianDigits(usage.mediaLimit)}.` : ' (بدون سقف روزانه).'),
        `شنیدن امروز: ${formatSecondsFa(usage.audioSecondsToday)}` +
          (usage.audioSecondsLimit > 0 ? ` از ${formatSecondsFa(usage.audioSecondsLimit)}.` : ' (بدون سقف روزانه).'),
        `شمارش روز ساعت ۰۰:۰۰ به وقت جهانی (UTC) از نو شروع می‌شود؛ ${formatDurationFa(usage.minutesToReset)} دیگر.`,
        'اگر به سقف برسی، یک بار می‌گویم کی می‌توانی دوباره بنویسی.',
      ].join('\n'),
    admin: 'تو مدیر این ربات هستی: سقف‌های کاربری برایت اعمال نمی‌شود. ‎/stats وضعیت کل مخزن را نشان می‌دهد.',
  },
  resetFailed: 'الان نتوانستم گفت‌وگو را پاک کنم (حافظه در دسترس نیست). لطفاً یک دقیقهٔ دیگر دوباره امتحان کن.',
  notAllowed: 'متأسفم، این ربات خصوصی است. از صاحبش بخواه شناسهٔ تلگرامت را اضافه کند.',
  tooLong: (length: number, max: number) =>
    `پیامت خیلی طولانی است (${toPersianDigits(length)} نویسه؛ حداکثر ${toPersianDigits(max)}). لطفاً کوتاهش کن یا چند تکه بفرست.`,
  emptyMessage: 'پیامت خالی است — متنی بفرست.',
  onlyText: 'فعلاً فقط پیام متنی را می‌توانم بخوانم. لطفاً سؤالت را به صورت متن بفرست.',
  unknownCommand: 'این دستور را نمی‌شناسم. /help را ببین.',
  rateLimited: (seconds: number) =>
    `خیلی سریع پیام می‌فرستی. لطفاً ${toPersianDigits(seconds)} ثانیه صبر کن و دوباره بفرست.`,
  dailyLimit: (hours: number) => `به سقف پیام‌های امروز رسیدی. حدود ${toPersianDigits(hours)} ساعت دیگر برگرد.`,
  historyUnavailable: '⚠️ الان به حافظه‌ام دسترسی ندارم؛ تا برگردد بدون در نظر گرفتن گفت‌وگوی قبلی جواب می‌دهم.',
  errors: {
    noCapacity: (minutes: number | undefined) =>
      minutes === undefined
        ? 'سهمیهٔ رایگان هوش مصنوعی فعلاً تمام شده است. لطفاً بعداً دوباره امتحان کن.'
        : `سهمیهٔ رایگان هوش مصنوعی الان پر است. لطفاً حدود ${toPersianDigits(minutes)} دقیقهٔ دیگر دوباره امتحان کن.`,
    unavailable: 'سرویس‌های هوش مصنوعی الان پاسخ نمی‌دهند. لطفاً یک دقیقهٔ دیگر دوباره امتحان کن.',
    contextTooLong: 'گفت‌وگوی‌مان برای مدل‌ها خیلی طولانی شده است. برای شروع دوباره /reset را بفرست.',
    contentFiltered: 'سرویس هوش مصنوعی به دلایل ایمنی به این پیام پاسخ نداد.',
    deadline: 'پاسخ هوش مصنوعی بیش از حد طول کشید. لطفاً دوباره امتحان کن.',
    interrupted: 'پاسخ نیمه‌کاره قطع شد. لطفاً پیامت را دوباره بفرست.',
    noProviders: 'هنوز هیچ سرویس هوش مصنوعی‌ای تنظیم نشده است. صاحب ربات باید کلید API اضافه کند.',
    noCapability:
      'هیچ‌کدام از مدل‌های هوش مصنوعی این ربات هنوز این نوع پیام را نمی‌توانند بخوانند. لطفاً آن را به صورت متن بفرست.',
    generic: 'مشکلی پیش آمد. لطفاً دوباره امتحان کن.',
    setAside:
      'نتوانستم به این پیام رسیدگی کنم: هر بار که امتحان کردم خطا داد، پس کنارش گذاشتم. لطفاً آن را با جمله‌بندی دیگری دوباره بفرست یا بعداً امتحان کن.',
  },
  translate: {
    usage: (defaultLanguage: string) =>
      'روش استفاده:\n/translate <زبان>\nخط اول\nخط دوم\n\n' +
      `…یا روی یک پیام با /translate <زبان> پاسخ بده. هر خط جداگانه ترجمه می‌شود. زبان می‌تواند نام یا کد باشد (en، de، French)؛ اگر ننویسی از «${defaultLanguage}» استفاده می‌کنم.`,
    nothingToTranslate: (defaultLanguage: string) =>
      `چیزی برای ترجمه نیست. خط‌ها را زیر دستور بنویس، یا روی یک پیام با /translate ${defaultLanguage} پاسخ بده.`,
    tooMany: (count: number, max: number) =>
      `این ${toPersianDigits(count)} خط است؛ من هر بار حداکثر ${toPersianDigits(max)} خط ترجمه می‌کنم. لطفاً تقسیمش کن.`,
    failedLine: (original: string) => `⚠️ (ترجمه نشد) ${original}`,
    someFailed: (count: number) => `⚠️ ${toPersianDigits(count)} خط ترجمه نشد و همان‌طور که بود نمایش داده شد.`,
    noTextInImage: 'در این تصویر متنی برای ترجمه پیدا نکردم.',
  },
  stats: {
    refused: 'متأسفم، /stats فقط برای مدیران ربات است.',
    title: (day: string) => `📊 Switchboard — ${day} (UTC)`,
    pool: (left: number, capacity: number) =>
      `مخزن: ${toPersianDigits(left)} از ${toPersianDigits(capacity)} درخواست امروز باقی مانده`,
    unknownKeys: (count: number) => `${toPersianDigits(count)} کلید بدون سقف روزانهٔ مشخص`,
    users: (active: number) => `کاربران فعال امروز: ${toPersianDigits(active)}`,
    topUsers: 'پرکارترین کاربران:',
    noRequests: 'هنوز درخواستی نبوده',
    requests: 'درخواست',
    success: 'موفق',
    fallbacks: 'جایگزینی',
    hedges: 'پشتیبان',
    transcriptions: (count: number, seconds: number) =>
      `🎤 ${toPersianDigits(count)} رونویسی (${toPersianDigits(seconds)} ثانیه صدا)`,
    mediaRequests: (count: number) => `🖼 ${toPersianDigits(count)} با رسانه`,
    left: 'باقی',
    thisMonth: 'این ماه',
    errors: 'خطاها',
    breaker: { closed: '🟢', open: '🔴 مدار باز', 'half-open': '🟡 در حال آزمایش' },
    blocked: { bad: 'کلید رد شده', quota: 'سهمیه تمام', cooldown: 'در حال استراحت' } as Record<string, string>,
    until: (time: string) => `تا ${time}`,
  },
  media: {
    videoFormat:
      'من فقط صدای ویدیوهای MP4، MPEG یا WebM را می‌شنوم و این ویدیو قالب دیگری دارد. لطفاً آن را به صورت MP4 یا پیام صوتی بفرست.',
    tooLarge: (megabytes: number) =>
      `این فایل برایم خیلی بزرگ است: تلگرام به ربات‌ها اجازهٔ دریافت حداکثر ۲۰ مگابایت را می‌دهد و این فایل ${toPersianDigits(megabytes)} مگابایت است.`,
    unsupported: 'من عکس، تصویر، پیام صوتی، فایل صوتی، PDF و فایل متنی را می‌خوانم، اما این نوع فایل را نه.',
    downloadFailed: 'نتوانستم فایلت را از تلگرام دریافت کنم. لطفاً دوباره بفرست.',
    nothingHeard: 'در این صدا حرفی تشخیص ندادم. لطفاً دوباره امتحان کن یا سؤالت را بنویس.',
    unreadable: 'مدل‌های هوش مصنوعی نتوانستند این فایل را بخوانند: شاید خراب است یا قالبش را نمی‌پذیرند.',
    notText: 'این فایل متنی به نظر نمی‌رسد. من فایل متنی (txt، md، csv، json، کد)، PDF، عکس و پیام صوتی را می‌خوانم.',
    documentTooLong: (chars: number, max: number) =>
      `این فایل برایم خیلی طولانی است (${toPersianDigits(chars)} نویسه؛ حداکثر ${toPersianDigits(max)}). لطفاً بخشی از آن را بفرست.`,
    pdfNoText:
      'این PDF متنی ندارد که بتوانم بخوانم: به نظر صفحه‌های اسکن‌شده است. لطفاً صفحه‌ها را به صورت عکس یا خود متن را بفرست.',
    pdfEncrypted: 'این PDF با گذرواژه قفل شده و نمی‌توانم بخوانمش. لطفاً نسخه‌ای بدون گذرواژه بفرست.',
    pdfUnreadable: 'نتوانستم این PDF را باز کنم: شاید خراب باشد. لطفاً بررسی کن که باز می‌شود و دوباره بفرست.',
    pdfTooComplex:
      'این PDF برای این‌که به‌موقع بخوانمش خیلی بزرگ یا پیچیده است. لطفاً فقط صفحه‌هایی را که لازم داری بفرست.',
    pdfTextCut: (lastPage: number, pages: number) =>
      `📄 این PDF طولانی‌تر از آن است که یک‌جا بخوانم، پس فقط تا صفحهٔ ${toPersianDigits(lastPage)} از ${toPersianDigits(pages)} را خواندم. برای بقیه، آن صفحه‌ها را در یک PDF جدا بفرست.`,
    mediaBudget: (limit: number, hours: number) =>
      `امروز ${toPersianDigits(limit)} عکس، پیام صوتی و فایل فرستاده‌ای؛ این بیشترین مقداری است که در یک روز می‌پذیرم. هنوز به پیام متنی جواب می‌دهم؛ حدود ${toPersianDigits(hours)} ساعت دیگر دوباره می‌توانی عکس و فایل بفرستی.`,
    audioBudget: (seconds: number, left: number, limit: number, hours: number) =>
      `این صدا ${formatSecondsFa(seconds)} است و ` +
      (left === 0
        ? `همهٔ ${formatSecondsFa(limit)} شنیدن امروزت را مصرف کرده‌ای.`
        : `از ${formatSecondsFa(limit)} شنیدن امروزت فقط ${formatSecondsFa(left)} مانده است.`) +
      ` صدای کوتاه‌تری بفرست یا سؤالت را بنویس؛ سهمیه حدود ${toPersianDigits(hours)} ساعت دیگر از نو شروع می‌شود.`,
  },
};

const PERSIAN_DIGITS = '۰۱۲۳۴۵۶۷۸۹';

/** 2026 → ۲۰۲۶ */
function toPersianDigits(value: number | string): string {
  return String(value).replace(/[0-9]/g, (digit) => PERSIAN_DIGITS[Number(digit)] ?? digit);
}
