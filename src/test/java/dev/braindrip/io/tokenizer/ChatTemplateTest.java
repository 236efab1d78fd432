package dev.braindrip.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chat templates rendered as transformers renders them. The templates are real models' (Llama 3,
 * Qwen's ChatML, Mistral, Zephyr) or written in their style (Qwen3's reasoning template without the
 * tool branch). Every expected string was produced by Python's jinja2 3.1.6, set up exactly as
 * transformers 4.47's {@code _compile_jinja_template} sets it up (ImmutableSandboxedEnvironment,
 * trim_blocks, lstrip_blocks, loopcontrols, its tojson and raise_exception), on the same templates
 * and conversations, and pasted here.
 */
class ChatTemplateTest {
    @TempDir
    Path tmp;

    static final String LLAMA3 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    static final String MISTRAL = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

    static final String ZEPHYR = "{% for message in messages %}\n"
            + "{% if message['role'] == 'user' %}\n"
            + "{{ '<|user|>\\n' + message['content'] + eos_token }}\n"
            + "{% elif message['role'] == 'system' %}\n"
            + "{{ '<|system|>\\n' + message['content'] + eos_token }}\n"
            + "{% elif message['role'] == 'assistant' %}\n"
            + "{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n"
            + "{% endif %}\n"
            + "{% if loop.last and add_generation_prompt %}\n"
            + "{{ '<|assistant|>' }}\n"
            + "{% endif %}\n"
            + "{% endfor %}";

    static final String QWEN3 = "{%- if messages[0].role == 'system' %}\n"
            + "    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n"
            + "{%- endif %}\n"
            + "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n"
            + "{%- for message in messages[::-1] %}\n"
            + "    {%- set index = (messages|length - 1) - loop.index0 %}\n"
            + "    {%- if ns.multi_step_tool and message.role == \"user\" and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}\n"
            + "        {%- set ns.multi_step_tool = false %}\n"
            + "        {%- set ns.last_query_index = index %}\n"
            + "    {%- endif %}\n"
            + "{%- endfor %}\n"
            + "{%- for message in messages %}\n"
            + "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) %}\n"
            + "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
            + "    {%- elif message.role == \"assistant\" %}\n"
            + "        {%- set content = message.content %}\n"
            + "        {%- set reasoning_content = '' %}\n"
            + "        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}\n"
            + "            {%- set reasoning_content = message.reasoning_content %}\n"
            + "        {%- else %}\n"
            + "            {%- if '</think>' in message.content %}\n"
            + "                {%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}\n"
            + "                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}\n"
            + "            {%- endif %}\n"
            + "        {%- endif %}\n"
            + "        {%- if loop.index0 > ns.last_query_index %}\n"
            + "            {%- if loop.last or (not loop.last and reasoning_content) %}\n"
            + "                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}\n"
            + "            {%- else %}\n"
            + "                {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
            + "            {%- endif %}\n"
            + "        {%- else %}\n"
            + "            {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
            + "        {%- endif %}\n"
            + "        {{- '<|im_end|>\\n' }}\n"
            + "    {%- endif %}\n"
            + "{%- endfor %}\n"
            + "{%- if add_generation_prompt %}\n"
            + "    {{- '<|im_start|>assistant\\n' }}\n"
            + "    {%- if enable_thinking is defined and enable_thinking is false %}\n"
            + "        {{- '<think>\\n\\n</think>\\n\\n' }}\n"
            + "    {%- endif %}\n"
            + "{%- endif %}\n";

    static final String TOJSON = "{% for message in messages %}{{ message | tojson }}\n"
            + "{% endfor %}{{ messages[0] | tojson(indent=2) }}";

    static final Map<String, Object> SPECIAL = Map.of("bos_token", "<s>", "eos_token", "</s>", "unk_token", "<unk>");

    static Map<String, Object> msg(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }

    static final List<Map<String, Object>> CHAT = List.of(msg("system", "You are terse."),
            msg("user", "  Hi there, caf\u00e9 \ud83e\udd16 \n"), msg("assistant", "Hello!"), msg("user", "What is 2+2?"));
    static final List<Map<String, Object>> ALTERNATING = List.of(msg("user", "Hi"), msg("assistant", "Hello"), msg("user", "Bye"));
    static final List<Map<String, Object>> THINKING = List.of(msg("system", "Be brief."), msg("user", "2+2?"),
            msg("assistant", "<think>\nadd them\n</think>\n\n4"), msg("user", "and 3+3?"),
            msg("assistant", "<think>\nagain\n</think>\n\n6"));
    static final List<Map<String, Object>> QUOTES = List.of(msg("user", "say \"hi\"\\ tab\there \u00e9\u0001"));

    /** jinja2's output for each case of {@link #cases()}, in order. */
    static final String[] EXPECTED = {
    // llama3, add_generation_prompt=False
    "<s><|start_header_id|>system<|end_header_id|>\n"
        + "\n"
        + "You are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        + "\n"
        + "Hi there, caf\u00e9 \ud83e\udd16<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        + "\n"
        + "Hello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        + "\n"
        + "What is 2+2?<|eot_id|>",
    // llama3, add_generation_prompt=True
    "<s><|start_header_id|>system<|end_header_id|>\n"
        + "\n"
        + "You are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        + "\n"
        + "Hi there, caf\u00e9 \ud83e\udd16<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        + "\n"
        + "Hello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        + "\n"
        + "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        + "\n",
    // chatml, add_generation_prompt=False
    "<|im_start|>system\n"
        + "You are terse.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "  Hi there, caf\u00e9 \ud83e\udd16 \n"
        + "<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "Hello!<|im_end|>\n"
        + "<|im_start|>user\n"
        + "What is 2+2?<|im_end|>\n",
    // chatml, add_generation_prompt=True
    "<|im_start|>system\n"
        + "You are terse.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "  Hi there, caf\u00e9 \ud83e\udd16 \n"
        + "<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "Hello!<|im_end|>\n"
        + "<|im_start|>user\n"
        + "What is 2+2?<|im_end|>\n"
        + "<|im_start|>assistant\n",
    // mistral, add_generation_prompt=False
    "<s>[INST] Hi [/INST]Hello</s>[INST] Bye [/INST]",
    // zephyr, add_generation_prompt=False
    "<|system|>\n"
        + "You are terse.</s>\n"
        + "<|user|>\n"
        + "  Hi there, caf\u00e9 \ud83e\udd16 \n"
        + "</s>\n"
        + "<|assistant|>\n"
        + "Hello!</s>\n"
        + "<|user|>\n"
        + "What is 2+2?</s>\n",
    // zephyr, add_generation_prompt=True
    "<|system|>\n"
        + "You are terse.</s>\n"
        + "<|user|>\n"
        + "  Hi there, caf\u00e9 \ud83e\udd16 \n"
        + "</s>\n"
        + "<|assistant|>\n"
        + "Hello!</s>\n"
        + "<|user|>\n"
        + "What is 2+2?</s>\n"
        + "<|assistant|>\n",
    // qwen3, add_generation_prompt=False
    "<|im_start|>system\n"
        + "Be brief.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "2+2?<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "4<|im_end|>\n"
        + "<|im_start|>user\n"
        + "and 3+3?<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "<think>\n"
        + "again\n"
        + "</think>\n"
        + "\n"
        + "6<|im_end|>\n",
    // qwen3, add_generation_prompt=True
    "<|im_start|>system\n"
        + "Be brief.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "2+2?<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "4<|im_end|>\n"
        + "<|im_start|>user\n"
        + "and 3+3?<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "<think>\n"
        + "again\n"
        + "</think>\n"
        + "\n"
        + "6<|im_end|>\n"
        + "<|im_start|>assistant\n",
    // qwen3, add_generation_prompt=True, {'enable_thinking': False}
    "<|im_start|>system\n"
        + "You are terse.<|im_end|>\n"
        + "<|im_start|>user\n"
        + "  Hi there, caf\u00e9 \ud83e\udd16 \n"
        + "<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "Hello!<|im_end|>\n"
        + "<|im_start|>user\n"
        + "What is 2+2?<|im_end|>\n"
        + "<|im_start|>assistant\n"
        + "<think>\n"
        + "\n"
        + "</think>\n"
        + "\n",
    // tojson, add_generation_prompt=False
    "{\"role\": \"user\", \"content\": \"say \\\"hi\\\"\\\\ tab\\there \u00e9\\u0001\"}\n"
        + "{\n"
        + "  \"role\": \"user\",\n"
        + "  \"content\": \"say \\\"hi\\\"\\\\ tab\\there \u00e9\\u0001\"\n"
        + "}",
    };

    record Case(String template, List<Map<String, Object>> messages, boolean addGenerationPrompt, Map<String, Object> extra) {}

    static List<Case> cases() {
        return List.of(new Case(LLAMA3, CHAT, false, Map.of()), new Case(LLAMA3, CHAT, true, Map.of()),
                new Case(CHATML, CHAT, false, Map.of()), new Case(CHATML, CHAT, true, Map.of()),
                new Case(MISTRAL, ALTERNATING, false, Map.of()),
                new Case(ZEPHYR, CHAT, false, Map.of()), new Case(ZEPHYR, CHAT, true, Map.of()),
                new Case(QWEN3, THINKING, false, Map.of()), new Case(QWEN3, THINKING, true, Map.of()),
                new Case(QWEN3, CHAT, true, Map.of("enable_thinking", false)),
                new Case(TOJSON, QUOTES, false, Map.of()));
    }

    @Test
    void rendersAsJinja2() {
        List<Case> cases = cases();
        assertEquals(EXPECTED.length, cases.size());
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            String got = new ChatTemplate(c.template(), SPECIAL).render(c.messages(), c.addGenerationPrompt(), c.extra());
            assertEquals(EXPECTED[i], got, "case " + i);
        }
    }

    @Test
    void raiseExceptionThrowsItsMessage() {
        ChatTemplate t = new ChatTemplate(MISTRAL, SPECIAL);
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> t.render(List.of(msg("user", "a"), msg("user", "b")), false));
        assertEquals("Conversation roles must alternate user/assistant/user/assistant/...", e.getMessage());
        e = assertThrows(ChatTemplateException.class, () -> t.render(List.of(msg("user", "a"), msg("system", "s")), false));
        assertEquals("Only user and assistant roles are supported!", e.getMessage());
        // the same template renders again afterwards
        assertEquals("<s>[INST] Hi [/INST]Hello</s>[INST] Bye [/INST]", t.render(ALTERNATING, false));
    }

    @Test
    void brokenTemplatesFailClearly() {
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> new ChatTemplate("{% for m in messages %}{{ m.content.nosuchmethod() }}{% endfor %}", SPECIAL)
                        .render(CHAT, false));
        assertTrue(e.getMessage().contains("chat template failed"), e.getMessage());
    }

    @Test
    void jinja2Details() {
        // lstrip_blocks / trim_blocks, and one trailing newline of the template dropped (jinja2's default)
        assertEquals("A\n  X\nB", new ChatTemplate("A\n  {% if true %}\n  X\n  {% endif %}\nB\n", SPECIAL).render(List.of(), false));
        // the output's own last newline stays
        assertEquals("u\nv\n", new ChatTemplate("{% for m in messages %}\n  {{- m.role }}\n{% endfor %}", SPECIAL)
                .render(List.of(msg("u", ""), msg("v", "")), false));
        // Python string methods and dict.get
        ChatTemplate t = new ChatTemplate("{{ messages[0].content.split(',')[1].strip() }}|{{ 'a.b.c'.split('.') | length }}|"
                + "{{ messages[0].get('missing', 'dflt') }}|{{ 'Hello World'.lower() }}|{{ '  x\n'.rstrip() }}|"
                + "{{ 'xxhixx'.strip('x') }}|{{ 'a b  c'.split() | join('-') }}|{{ ', '.join(['p', 'q']) }}", SPECIAL);
        assertEquals("b|3|dflt|hello world|  x|hi|a-b-c|p, q", t.render(List.of(msg("user", "a, b ,c")), false));
        assertEquals("role=user;content=x;", new ChatTemplate("{% for k, v in messages[0].items() %}{{ k }}={{ v }};{% endfor %}",
                SPECIAL).render(List.of(msg("user", "x")), false));
        // loop controls (jinja2.ext.loopcontrols, which transformers enables); expected from jinja2
        assertEquals("system;", new ChatTemplate("{% for m in messages %}{% if loop.index0 == 2 %}{% break %}{% endif %}"
                + "{% if m.role == 'user' %}{% continue %}{% endif %}{{ m.role }};{% endfor %}", SPECIAL).render(CHAT, false));
        // transformers' {% generation %} block renders its body
        assertEquals("[Hello!]", new ChatTemplate("{% for m in messages %}{% if m.role == 'assistant' %}[{% generation %}"
                + "{{ m.content }}{% endgeneration %}]{% endif %}{% endfor %}", SPECIAL).render(CHAT, false));
    }

    @Test
    void strftimeNowUsesPythonFormats() {
        String today = LocalDate.now().format(DateTimeFormatter.ofPattern("dd MMM yyyy", Locale.ENGLISH));
        String got = new ChatTemplate("{{ strftime_now('%d %b %Y') }}", SPECIAL).render(List.of(), false);
        // around midnight the date may move on between the two reads
        String tomorrow = LocalDate.now().format(DateTimeFormatter.ofPattern("dd MMM yyyy", Locale.ENGLISH));
        assertTrue(got.equals(today) || got.equals(tomorrow), got);
    }

    @Test
    void tokenizerConfigTemplates() throws Exception {
        String single = "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"chat_template\": " + TinyTokenizers.MAPPER.writeValueAsString(MISTRAL) + "}";
        try (HfTokenizer t = HfTokenizer.load(TinyTokenizers.dir(tmp, "single", TinyTokenizers.llama2(),
                Map.of("tokenizer_config.json", single)), TokenizerHints.NONE)) {
            assertTrue(t.hasChatTemplate());
            String prompt = t.applyChatTemplate(ALTERNATING, true);
            assertEquals("<s>[INST] Hi [/INST]Hello</s>[INST] Bye [/INST]", prompt);
            // the template wrote the BOS: encode without special tokens
            int[] ids = t.encode(prompt, false);
            assertEquals(TinyTokenizers.S_BOS, ids[0]);
            assertTrue(ids[1] != TinyTokenizers.S_BOS);
        }
        String named = "{\"eos_token\": \"<|im_end|>\", \"chat_template\": [{\"name\": \"tool_use\", \"template\": \"tools\"}, "
                + "{\"name\": \"default\", \"template\": " + TinyTokenizers.MAPPER.writeValueAsString(CHATML) + "}]}";
        try (HfTokenizer t = HfTokenizer.load(TinyTokenizers.dir(tmp, "named", TinyTokenizers.gpt2(),
                Map.of("tokenizer_config.json", named)), TokenizerHints.NONE)) {
            assertEquals(EXPECTED[3], t.applyChatTemplate(CHAT, true));
        }
        String noDefault = "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"}]}";
        try (HfTokenizer t = HfTokenizer.load(TinyTokenizers.dir(tmp, "nodefault", TinyTokenizers.gpt2(),
                Map.of("tokenizer_config.json", noDefault)), TokenizerHints.NONE)) {
            assertFalse(t.hasChatTemplate());
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> t.applyChatTemplate(CHAT, true));
            assertTrue(e.getMessage().contains("tool_use") && e.getMessage().contains("default"), e.getMessage());
        }
        try (HfTokenizer t = HfTokenizer.load(TinyTokenizers.dir(tmp, "jinja", TinyTokenizers.gpt2(),
                Map.of("chat_template.jinja", CHATML + "\n")), TokenizerHints.NONE)) {
            assertEquals(EXPECTED[2], t.applyChatTemplate(CHAT, false));
        }
        try (HfTokenizer t = HfTokenizer.load(TinyTokenizers.dir(tmp, "none", TinyTokenizers.gpt2(), Map.of()), TokenizerHints.NONE)) {
            assertFalse(t.hasChatTemplate());
            assertThrows(UnsupportedOperationException.class, () -> t.applyChatTemplate(CHAT, true));
        }
    }

    @Test
    void byteModelsHaveNoTemplate() {
        ByteTokenizer t = ByteTokenizer.plain();
        assertFalse(t.hasChatTemplate());
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> t.applyChatTemplate(CHAT, true));
        assertTrue(e.getMessage().contains("chat template"), e.getMessage());
    }
}
