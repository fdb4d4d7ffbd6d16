/* Pure rules of notification delivery (see notify.h): the channel of a message, the gateway
 * signature, retry jitter, the excerpt of a receiver's answer. No I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "notify.h"

static const char *const fu_channel_names[FU_CH_COUNT] = {"sms", "email", "app", "staff_app"};

const char *fu_channel_name(enum fu_channel ch)
{
	return ch >= 0 && ch < FU_CH_COUNT ? fu_channel_names[ch] : "sms";
}

enum fu_channel fu_channel_for(const char *recipient, const char *preferred_contact)
{
	if (recipient && strncmp(recipient, "staff:", 6) == 0)
		return FU_CH_STAFF_APP;
	const char *p = preferred_contact ? preferred_contact : "";
	if (strcmp(p, "email") == 0)
		return FU_CH_EMAIL;
	if (strcmp(p, "app") == 0)
		return FU_CH_APP;
	/* phone and wechat have no gateway of their own: a text message reaches every phone */
	return FU_CH_SMS;
}

int fu_sign(const char *secret, const char *timestamp, const char *body, size_t len, char out[65])
{
	size_t tlen = strlen(timestamp);
	char *msg = malloc(tlen + 1 + len);
	if (!msg)
		return -1;
	memcpy(msg, timestamp, tlen);
	msg[tlen] = '.';
	memcpy(msg + tlen + 1, body, len);
	int rc = ids_hmac_hex(secret, msg, tlen + 1 + len, out);
	free(msg);
	return rc;
}

int64_t fu_jitter_ms(int64_t delay_ms, double r)
{
	if (delay_ms <= 1)
		return delay_ms;
	if (r < 0 || r >= 1)
		r = 0;
	int64_t half = delay_ms / 2;
	return half + (int64_t)((double)(delay_ms - half) * r);
}

void fu_excerpt(const char *body, size_t len, char *out, size_t cap)
{
	if (cap == 0)
		return;
	size_t n = len < cap - 1 ? len : cap - 1;
	/* never end inside a UTF-8 sequence: back up over continuation bytes when cut */
	if (n < len)
		while (n > 0 && ((unsigned char)body[n] & 0xC0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)body[i];
		out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	out[n] = '\0';
}

bool fu_gateway_url_ok(const char *url)
{
	const char *rest = NULL;
	if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	return rest && rest[0] && rest[0] != '/' && !strpbrk(url, " \t\r\n");
}
