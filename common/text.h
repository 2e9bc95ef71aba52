// Text that came from a host or an agent, made safe to show to a person: a terminal, a log
// line, a `--format text` table. Host data (file names, key comments, versions, error texts) may
// hold escape sequences, carriage returns, newlines or invalid UTF-8 that would erase, replace or
// forge lines on the auditor's screen or in a log. Pure functions, no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tidemark {

// Returns `text` with every byte or character that could move the cursor, change the terminal's
// state or forge a line escaped, and everything else unchanged:
//   - C0 controls (U+0000..U+001F, incl. \n, \r, \t, ESC) and DEL as "\xNN";
//   - C1 controls (U+0080..U+009F, encoded in UTF-8) as "\u0080".."\u009f";
//   - U+2028/U+2029 (line/paragraph separators) and the bidi overrides U+202A..U+202E,
//     U+2066..U+2069 as "\uXXXX";
//   - bytes that are not valid UTF-8 as "\xNN";
//   - a backslash as "\\", so the escaped form is unambiguous.
// Valid printable UTF-8 (names in other scripts) passes through.
std::string EscapeControl(std::string_view text);

// Returns the length (1..4) of the valid, shortest-form UTF-8 sequence of a Unicode scalar value
// at text[i] and sets `*cp` (when given) to it, or 0 when the bytes there are not one.
size_t Utf8SequenceLength(std::string_view text, size_t i, uint32_t* cp = nullptr);

// The length of `text` as a JSON writer makes it valid UTF-8: each byte that does not begin a
// valid sequence counts as U+FFFD (three bytes). What Utf8Bounded compares with its limit.
size_t Utf8WrittenLength(std::string_view text);

// Returns EscapeControl(text), cut to at most `max_bytes` bytes of the escaped form (never
// inside an escape or a UTF-8 sequence) with "…(N bytes)" appended when cut, N being the
// length of the original text. For fields whose length a host controls (versions, comments).
std::string EscapeControlBounded(std::string_view text, size_t max_bytes);

// `text` as valid UTF-8 of at most `max_bytes` bytes, for a field of a document whose reader
// bounds its length: each byte that does not begin a valid UTF-8 sequence becomes U+FFFD (as the
// snapshot writer would write it, three bytes for one), and when the result is longer than
// `max_bytes` it is cut at a character boundary and ends with "…(N bytes)", N being the length
// of `text`. Text that is valid UTF-8 and short enough is returned unchanged, so applying it twice
// changes nothing. `max_bytes` must leave room for that ending (at least 32).
std::string Utf8Bounded(std::string_view text, size_t max_bytes);

// `text` for HTML or XML content and attributes: & < > " ' as the entities &amp; &lt; &gt;
// &quot; &#39;. Host text is passed through EscapeControl first (XML 1.0 forbids most control
// characters; a page should not carry a host's escape sequences either).
std::string EscapeMarkup(std::string_view text);

// `bytes` as lowercase hexadecimal, two digits a byte: digests, fingerprints, random ids.
std::string HexEncode(std::string_view bytes);

// `text` with ASCII letters in upper case ("leftover" -> "LEFTOVER"): status words in text
// output.
std::string AsciiUpper(std::string_view text);
// `text` with ASCII letters in lower case, nothing else changed: what tolower() does in the C
// locale (the programs never call setlocale), for the host formats' case-insensitive words.
std::string AsciiLower(std::string_view text);
// True when `a` and `b` are equal but for the case of ASCII letters (strcasecmp in the C locale).
bool EqualsNoCase(std::string_view a, std::string_view b);

// A CSV field (RFC 4180). Host text is escaped as in text output (EscapeControl), so that a CSV
// shown in a terminal or imported cannot carry escape sequences or line breaks of a host's
// making. A text cell that a spreadsheet would take for a formula (it starts with =, +, -, @,
// as OWASP's "CSV injection" lists) gets a leading ' (numbers, text_cell false, are written as
// they are).
std::string CsvField(const std::string& raw, bool text_cell = true);

}  // namespace tidemark
