/* Unit tests of the text classifier's pure parts and its shim: normalisation (traditional ->
 * simplified, full-width -> half-width, case folding, masking), negation and contrast
 * (services/classification/textnorm.c, negation.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification/classification.h"
#include "classification/negation.h"
#include "classification/textnorm.h"

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
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
