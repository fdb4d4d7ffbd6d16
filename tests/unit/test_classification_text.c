/* Unit tests of the text classifier's pure parts and its shim: normalisation (traditional ->
 * simplified, full-width -> half-width, case folding, masking), negation and contrast
 * (services/classification/textnorm.c, negation.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification/classification.h"
#include "classification/ftshim.h"
#include "classification/negation.h"
#include "classification/textmodel.h"
#include "classification/textnorm.h"
#include "classification/textsignals.h"
#include <unistd.h>

struct classification_config classification_cfg;

/* The marks of the bytes where needle starts in text, as a string of '.', 'n', 'c', 'b'. */
static char mark_of(const char *text, const char *needle)
{
	size_t n = strlen(text);
	unsigned char *m = calloc(n + 1, 1);
	negation_mark(text, n, m);
	const char *p = strstr(text, needle);
	ck_assert_msg(p != NULL, "'%s' not in '%s'", needle, text);
	unsigned char v = m[p - text];
	free(m);
	return v == 0 ? '.' : v == NEGATION_NEGATED ? 'n' : v == NEGATION_CONCEDED ? 'c' : 'b';
}

START_TEST(fold_full_width_and_case)
{
	char out[256];
	textnorm_fold("ＳＦ１２３４５６７８９０　ＢＲＯＫＥＮ！Ｄａｍａｇｅｄ，包裹。", out,
		      sizeof(out));
	ck_assert_str_eq(out, "sf1234567890 broken!damaged,包裹.");
	textnorm_fold("「物流」、￥９０００…", out, sizeof(out));
	ck_assert_str_eq(out, "\"物流\",¥9000...");
	textnorm_fold("Line\tone\nTWO", out, sizeof(out));
	ck_assert_str_eq(out, "line one two");
	/* a character is never cut in half at the end of the buffer */
	textnorm_fold("包裹破损", out, 8);
	ck_assert_str_eq(out, "包裹");
}
END_TEST

START_TEST(traditional_to_simplified)
{
	char err[256], out[256];
	struct textnorm *n = textnorm_new("t2s.json", err, sizeof(err));
	ck_assert_msg(n != NULL, "%s", err);
	ck_assert_int_eq(textnorm_t2s(n, "物流幾天沒更新", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "物流几天没更新");
	textnorm_text(n, "包裹被壓壞了，ＰＬＥＡＳＥ處理", out, sizeof(out));
	ck_assert_str_eq(out, "包裹被压坏了,please处理");
	/* simplified text passes through unchanged */
	ck_assert_int_eq(textnorm_t2s(n, "快递延误了三天", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "快递延误了三天");
	textnorm_free(n);
	/* without the converter the text is kept as it is and the caller is told */
	ck_assert_int_eq(textnorm_t2s(NULL, "幾天", out, sizeof(out)), -1);
	ck_assert_str_eq(out, "幾天");
	ck_assert_ptr_null(textnorm_new("/nonexistent/t2s.json", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/t2s.json"));
}
END_TEST

START_TEST(tokens_mask_numbers_and_waybills)
{
	char out[512];
	textnorm_tokens("运单sf1234567890延误3天,赔500元!", out, sizeof(out));
	ck_assert_str_eq(out, "运 单 <id> 延 误 <num> 天 赔 <num> 元 !");
	textnorm_tokens("tracking 773012345678901 shows 2.5kg, call [phone] or [name]", out,
			sizeof(out));
	ck_assert_str_eq(out, "tracking <id> shows <num> kg call <id> or <name>");
	textnorm_tokens("it's 3pm and i'm waiting", out, sizeof(out));
	ck_assert_str_eq(out, "it's <num> pm and i'm waiting");
	/* the buffer ends between tokens, never inside one */
	textnorm_tokens("包裹破损", out, 8);
	ck_assert_str_eq(out, "包 裹");
}
END_TEST

START_TEST(tokens_carry_negation_and_contrast)
{
	char out[512];
	textnorm_tokens("没有破损,只是晚了", out, sizeof(out));
	ck_assert_str_eq(out, "~没 ~有 ^破 ^损 只 是 晚 了");
	textnorm_tokens("not damaged, just late", out, sizeof(out));
	ck_assert_str_eq(out, "~not ^damaged just late");
}
END_TEST

START_TEST(negated_cue_is_marked)
{
	ck_assert_int_eq(mark_of("包裹没有破损", "破损"), 'n');
	ck_assert_int_eq(mark_of("外箱一点都没坏", "坏"), 'n');
	ck_assert_int_eq(mark_of("并没有出现延误", "延误"), 'n');
	ck_assert_int_eq(mark_of("the box was not damaged", "damaged"), 'n');
	ck_assert_int_eq(mark_of("the box wasn't damaged at all", "damaged"), 'n');
	ck_assert_int_eq(mark_of("no damage to the box", "damage"), 'n');
	/* a negated cue stops at the clause: what follows the comma still counts */
	ck_assert_int_eq(mark_of("没有破损,但是延误了", "延误"), '.');
	/* cue words that contain a negation are complaints, not denials */
	ck_assert_int_eq(mark_of("快递还没到", "还没到"), '.');
	ck_assert_int_eq(mark_of("快递员很不耐烦", "不耐烦"), '.');
	/* a single 不 denies the next two characters only */
	ck_assert_int_eq(mark_of("不知道为什么延误了", "延误"), '.');
	/* "not only" and 不仅 deny nothing */
	ck_assert_int_eq(mark_of("不仅延误还破损了", "延误"), '.');
	ck_assert_int_eq(mark_of("not only late but also broken", "late"), '.');
	ck_assert_int_eq(mark_of("not only late but also broken", "broken"), '.');
}
END_TEST

START_TEST(contrast_after_turn_wins)
{
	const char *t = "不是延误,是东西坏了";
	ck_assert_int_eq(mark_of(t, "延误"), 'b');
	ck_assert_int_eq(mark_of(t, "东西坏了"), '.');
	t = "虽然晚了两天,但是东西摔坏了";
	ck_assert_int_eq(mark_of(t, "晚了"), 'c');
	ck_assert_int_eq(mark_of(t, "摔坏"), '.');
	t = "not damaged, just late";
	ck_assert_int_eq(mark_of(t, "damaged"), 'b');
	ck_assert_int_eq(mark_of(t, "late"), '.');
	t = "the parcel arrived on time but the vase is broken";
	ck_assert_int_eq(mark_of(t, "on time"), 'c');
	ck_assert_int_eq(mark_of(t, "broken"), '.');
	t = "包裹不是丢了,而是被送错了地址";
	ck_assert_int_eq(mark_of(t, "丢了"), 'b');
	ck_assert_int_eq(mark_of(t, "送错"), '.');
	/* a contrast reaches back to the start of its sentence only */
	t = "包裹破损了.快递员态度还可以,但是客服一直推诿";
	ck_assert_int_eq(mark_of(t, "破损"), '.');
	ck_assert_int_eq(mark_of(t, "态度"), 'c');
	/* 是 without a denial before it is no contrast */
	t = "我是上周寄的,是不是丢了";
	ck_assert_int_eq(mark_of(t, "上周"), '.');
}
END_TEST

START_TEST(amounts_deadlines_repeats_in_text)
{
	struct textsig sg;
	size_t len;
	ck_assert_int_eq(textsig_number("九千", &len), 9000);
	ck_assert_int_eq(textsig_number("一万二", &len), 12000);
	ck_assert_int_eq(textsig_number("两千多", &len), 2000);
	ck_assert_int_eq(textsig_number("三千五百", &len), 3500);
	ck_assert_int_eq(textsig_number("十五", &len), 15);
	ck_assert_int_eq(textsig_number("1.2万", &len), 12000);
	/* any run a customer types stays bounded (no overflow) */
	ck_assert(textsig_number("九九九九九九九九九九九九九九九九九九九九九九九九万万万万",
				 &len) <= 1000000000000LL);
	ck_assert(textsig_number("99999999999999999999999999999", &len) <= 1000000000000LL);
	textsig_scan("九千元的电脑丢了,明天开庭要用,这是第三次投诉!!", &sg);
	ck_assert_int_eq((int)sg.amount_fen, 900000);
	ck_assert_str_eq(sg.amount_cue, "九千元");
	ck_assert(sg.deadline);
	ck_assert_str_eq(sg.deadline_cue, "开庭");
	ck_assert_int_eq(sg.repeat, 3);
	ck_assert(sg.shouting);
	textsig_scan("laptop worth rmb 12,000, third time i write", &sg);
	ck_assert_int_eq((int)sg.amount_fen, 1200000);
	ck_assert_int_eq(sg.repeat, 2);
	textsig_scan("¥4,599的手机", &sg);
	ck_assert_int_eq((int)sg.amount_fen, 459900);
	/* numbers that are not money, and a second delivery attempt, raise nothing */
	textsig_scan("等了3天,第二次派送也没人,单号sf1234567890,重2.5kg", &sg);
	ck_assert_int_eq((int)sg.amount_fen, 0);
	ck_assert_int_eq(sg.repeat, 0);
	ck_assert(!sg.deadline && !sg.shouting);
}
END_TEST

/* A tiny model trained here, so the shim is tested without the corpus build. */
static char model_dir[64];

static void train_tiny(const char *path, const char *bogus_label)
{
	char input[128], err[256];
	snprintf(input, sizeof(input), "%s/train.txt", model_dir);
	FILE *f = fopen(input, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 20; i++) {
		fprintf(f, "__label__damage 包 裹 破 损 了 外 箱 压 坏\n");
		fprintf(f, "__label__delay 快 递 延 误 %d 天 还 没 到\n", i);
		fprintf(f, "__label__%s the box is broken and damaged\n", bogus_label);
	}
	fclose(f);
	const struct ftshim_params p = {16, 5, 2, 0, 0, 1000, 1, 7, 0.5};
	ck_assert_msg(ftshim_train(input, path, &p, err, sizeof(err)) == 0, "%s", err);
}

static void model_setup(void)
{
	snprintf(model_dir, sizeof(model_dir), "/tmp/cp-textmodel-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(model_dir));
}

static void model_teardown(void)
{
	static const char *const names[] = {"train.txt", "good.bin", "bad.bin"};
	char path[128];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", model_dir, names[i]);
		unlink(path);
	}
	rmdir(model_dir);
}

/* Writes the first n bytes of src (or garbage when src is NULL) to dst. */
static void write_cut(const char *src, const char *dst, long n)
{
	FILE *in = src ? fopen(src, "rb") : NULL, *out = fopen(dst, "wb");
	ck_assert_ptr_nonnull(out);
	for (long i = 0; i < n; i++) {
		int c = in ? fgetc(in) : (int)(i * 7919 % 251);
		if (c == EOF)
			break;
		fputc(c, out);
	}
	if (in)
		fclose(in);
	fclose(out);
}

START_TEST(shim_loads_and_classifies)
{
	char path[128], err[512];
	model_setup();
	snprintf(path, sizeof(path), "%s/good.bin", model_dir);
	train_tiny(path, "damage");
	ck_assert_msg(textmodel_check_file(path, err, sizeof(err)) == 0, "%s", err);
	struct textmodel *m = textmodel_load(path, err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	struct textmodel_reading rd;
	ck_assert_int_eq(textmodel_read(m, "快 递 延 误 <num> 天", &rd), 0);
	ck_assert_str_eq(rd.subcategory, "delay");
	ck_assert(rd.probability > 0.5 && rd.probability <= 1.0);
	ck_assert_str_eq(rd.second, "damage");
	ck_assert_int_eq(textmodel_read_text(m, NULL, NULL, "包裹破损了", &rd), 0);
	ck_assert_str_eq(rd.subcategory, "damage");
	textmodel_free(m);
	model_teardown();
}
END_TEST

START_TEST(shim_bad_model_file_is_an_error)
{
	char good[128], bad[128], err[512];
	model_setup();
	snprintf(good, sizeof(good), "%s/good.bin", model_dir);
	snprintf(bad, sizeof(bad), "%s/bad.bin", model_dir);
	train_tiny(good, "damage");
	FILE *f = fopen(good, "rb");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	/* missing, empty, garbage, cut in the header, the dictionary and the last matrix, and
	 * one byte too many: each refused with a reason, none reaches fastText's loader */
	ck_assert_ptr_null(textmodel_load("/nonexistent/model.bin", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/model.bin"));
	const struct {
		long cut;
		bool garbage;
		const char *why;
	} cases[] = {
	    {0, false, "truncated"},   {4000, true, "magic"},		{20, false, "truncated"},
	    {120, false, "truncated"}, {size - 10, false, "truncated"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_cut(cases[i].garbage ? NULL : good, bad, cases[i].cut);
		ck_assert_ptr_null(textmodel_load(bad, err, sizeof(err)));
		ck_assert_msg(strstr(err, cases[i].why) != NULL, "case %zu: %s", i, err);
	}
	write_cut(good, bad, size);
	f = fopen(bad, "ab");
	fputc(0, f);
	fclose(f);
	ck_assert_ptr_null(textmodel_load(bad, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "trailing"));
	/* a well-formed model whose labels are not sub-categories is refused too */
	train_tiny(bad, "bogus");
	ck_assert_ptr_null(textmodel_load(bad, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "'bogus'"));
	model_teardown();
}
END_TEST

START_TEST(model_reading_decides_and_low_confidence_asks_a_person)
{
	struct kw_entry v[2];
	struct kw_table kw = {v, 2};
	char err[128];
	ck_assert_int_eq(classify_kw_make(&v[0], "破损", "category", "transport", "damage", NULL, 2,
					  err, sizeof(err)),
			 0);
	ck_assert_int_eq(classify_kw_make(&v[1], "爆仓", "category", "transport", "delay", NULL, 2,
					  err, sizeof(err)),
			 0);
	Cp__ComplaintReceived c = CP__COMPLAINT_RECEIVED__INIT;
	struct classify_result r;
	c.type = CP__COMPLAINT_TYPE__COMPLAINT_TYPE_OTHER;
	c.description_redacted = "包裹破损了,东西也少了一件";
	struct classify_reading rd = {NULL, "loss", 0.9, 0.6, NULL};
	classify_complaint_read(&c, &kw, false, &rd, &r);
	ck_assert_str_eq(r.subcategory, "loss");
	ck_assert_str_eq(r.text_reader, "model");
	ck_assert(!r.needs_review);
	ck_assert_str_eq(r.keywords[0], "破损"); /* the keywords are still recorded */
	rd.probability = 0.4;
	classify_complaint_read(&c, &kw, false, &rd, &r);
	ck_assert_str_eq(r.subcategory, "loss");
	ck_assert(r.needs_review);
	/* an operator's override keyword wins over the model */
	v[1].override = true;
	c.description_redacted = "网点爆仓,包裹破损";
	classify_complaint_read(&c, &kw, false, &rd, &r);
	ck_assert_str_eq(r.subcategory, "delay");
	ck_assert_str_eq(r.text_reader, "override");
	ck_assert(!r.needs_review);
	/* the model reading other leaves the customer's stated type */
	c.type = CP__COMPLAINT_TYPE__COMPLAINT_TYPE_DAMAGE;
	c.description_redacted = "请尽快处理";
	rd.subcategory = "other";
	rd.probability = 0.95;
	classify_complaint_read(&c, &kw, false, &rd, &r);
	ck_assert_str_eq(r.subcategory, "damage");
	ck_assert_str_eq(r.text_subcategory, "other");
	/* the keyword table is a feature of the model's input, with the same negation rules */
	char feat[256];
	v[1].override = false;
	struct kw_entry f[2];
	struct kw_table fk = {f, 2};
	ck_assert_int_eq(classify_kw_make(&f[0], "破损", "category", "transport", "damage", NULL, 2,
					  err, sizeof(err)),
			 0);
	ck_assert_int_eq(classify_kw_make(&f[1], "延误", "category", "transport", "delay", NULL, 2,
					  err, sizeof(err)),
			 0);
	classify_keyword_tokens("没有破损,但是延误了", &fk, feat, sizeof(feat));
	ck_assert_str_eq(feat, " kw_delay");
	classify_keyword_tokens("虽然延误了,但是破损了", &fk, feat, sizeof(feat));
	ck_assert_str_eq(feat, " kw_damage ~kw_delay");
	/* without a model reading the keywords read the text */
	classify_complaint_read(&c, &kw, false, NULL, &r);
	ck_assert_str_eq(r.text_reader, "keywords");
}
END_TEST

/* A person's category (the correction PUT) wins over the stated type, the model and an
 * override keyword, clears the review flag, and urgency and severity follow it. */
START_TEST(person_decides_the_category_and_urgency_follows)
{
	struct kw_entry v[1];
	struct kw_table kw = {v, 1};
	char err[128];
	ck_assert_int_eq(classify_kw_make(&v[0], "破损", "category", "transport", "damage", NULL, 2,
					  err, sizeof(err)),
			 0);
	v[0].override = true;
	Cp__ComplaintReceived c = CP__COMPLAINT_RECEIVED__INIT;
	Cp__Impact im = CP__IMPACT__INIT;
	char *goods[] = {"medicine"};
	im.goods = goods;
	im.n_goods = 1;
	c.impact = &im;
	c.type = CP__COMPLAINT_TYPE__COMPLAINT_TYPE_DAMAGE;
	c.description_redacted = "外箱破损，药还没到";
	struct classify_result r;
	struct classify_reading rd = {NULL, "damage", 0.3, 0.6, NULL};
	classify_complaint_read(&c, &kw, false, &rd, &r);
	ck_assert_str_eq(r.subcategory, "damage");
	ck_assert_str_eq(r.urgency, "urgent");
	rd.decided = "delay";
	classify_complaint_read(&c, &kw, false, &rd, &r);
	ck_assert_str_eq(r.category, "transport");
	ck_assert_str_eq(r.subcategory, "delay");
	ck_assert_str_eq(r.reason, "set by a person: delay");
	ck_assert(!r.needs_review);
	/* medicine that is late is very urgent; the same medicine damaged was only urgent */
	ck_assert_str_eq(r.urgency, "very_urgent");
	rd.decided = "unclear_price";
	classify_complaint_read(&c, &kw, false, &rd, &r);
	ck_assert_str_eq(r.category, "charges");
	ck_assert_str_eq(r.subcategory, "unclear_price");
	/* an unknown name decides nothing */
	rd.decided = "no_such_category";
	classify_complaint_read(&c, &kw, false, &rd, &r);
	ck_assert_str_eq(r.subcategory, "damage");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("classification_text");
	TCase *tc = tcase_create("text");
	tcase_add_test(tc, fold_full_width_and_case);
	tcase_add_test(tc, traditional_to_simplified);
	tcase_add_test(tc, tokens_mask_numbers_and_waybills);
	tcase_add_test(tc, tokens_carry_negation_and_contrast);
	tcase_add_test(tc, negated_cue_is_marked);
	tcase_add_test(tc, contrast_after_turn_wins);
	tcase_add_test(tc, amounts_deadlines_repeats_in_text);
	tcase_add_test(tc, shim_loads_and_classifies);
	tcase_add_test(tc, shim_bad_model_file_is_an_error);
	tcase_add_test(tc, model_reading_decides_and_low_confidence_asks_a_person);
	tcase_add_test(tc, person_decides_the_category_and_urgency_follows);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
