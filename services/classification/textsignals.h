/* Urgency cues in a complaint's own words (pure, no I/O): what the structured fields say
 * (declared value, repeat count, urgent goods) is often only written in the text —
 * 「九千元的电脑」, 「明天开庭」, 「第三次投诉」, "!!!". classify.c counts them as it counts the
 * fields. */
#ifndef CP_TEXTSIGNALS_H
#define CP_TEXTSIGNALS_H

#include <stdbool.h>
#include <stddef.h>

#define TEXTSIG_CUE_MAX 48

struct textsig {
	long long
	    amount_fen; /* the largest money amount written (9000元, ¥4,599, 一万二, RMB 2k) */
	bool deadline;	/* the goods are needed by a date: 开庭, 考试, 签证, court hearing */
	int repeat;	/* the customer says this is the n-th complaint (2 when unsaid) */
	bool shouting;	/* !! or ?? runs */
	/* the words that raised each cue, as found in the text ("" when none) */
	char amount_cue[TEXTSIG_CUE_MAX], deadline_cue[TEXTSIG_CUE_MAX],
	    repeat_cue[TEXTSIG_CUE_MAX];
};

/* Reads a folded text (textnorm_fold: lowercase, ASCII punctuation, half-width digits). */
void textsig_scan(const char *folded, struct textsig *out);

/* Pure: the value of a Chinese numeral at s (九千, 两千多, 一万二, 三千五百, 1.2万, 8千) in
 * units; *len receives the bytes read (0: no numeral). */
long long textsig_number(const char *s, size_t *len);

#endif
