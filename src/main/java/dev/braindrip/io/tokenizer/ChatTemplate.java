package dev.braindrip.io.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.interpret.JinjavaInterpreter.InterpreterScopeClosable;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import java.time.ZonedDateTime;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import jinjava.javax.el.CompositeELResolver;

/**
 * A Hugging Face chat template ({@code chat_template} of tokenizer_config.json), rendered as
 * transformers renders it: Jinja with {@code trim_blocks} and {@code lstrip_blocks}, one trailing
 * newline of the template dropped, the variables {@code messages}, {@code add_generation_prompt},
 * {@code tools} and {@code documents} (none unless given), the special tokens as strings
 * ({@code bos_token}, {@code eos_token}, ...), the functions {@code raise_exception(msg)} and
 * {@code strftime_now(fmt)}, a {@code tojson} filter that writes as Python's {@code json.dumps}, and
 * the {@code {% generation %}} block (transformers marks assistant text with it; it renders its body).
 *
 * <p>The engine is Jinjava, set up to follow jinja2: <code>{{-</code> and <code>-}}</code> trim, filters bind
 * tighter than {@code +}, and Python's {@code str} methods ({@code startswith}, {@code split},
 * {@code strip(chars)}, ...) and {@code dict.get/items/keys/values} behave as in Python (see
 * {@link PyMethods}). Known differences: {@code {{ none }}} and booleans print as jinja2 would not
 * ("" and "true" instead of "None" and "True"), and string indexing counts UTF-16 units.
 * Rendering is serialized per instance (Jinjava's global context is shared between renders).
 *
 * <p>A template that calls {@code raise_exception}, or fails in any other way, throws a
 * {@link ChatTemplateException} with the message; nothing half-rendered is returned.
 */
public final class ChatTemplate {
    private static final ThreadLocal<String> RAISED = new ThreadLocal<>();

    private final String source;
    private final String parsed;   // what Jinjava reads (JinjaSource)
    private final Map<String, Object> specialTokens;
    private final Jinjava jinjava;

    /**
     * @param source the template text
     * @param specialTokens the variables transformers takes from the special tokens map:
     *     {@code bos_token}, {@code eos_token}, ... as strings, {@code additional_special_tokens} as a list
     */
    public ChatTemplate(String source, Map<String, ?> specialTokens) {
        this.source = normalize(Objects.requireNonNull(source, "source"));
        this.parsed = JinjaSource.wrapKeywordArguments(this.source);
        this.specialTokens = Map.copyOf(specialTokens);
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PyMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withKeepTrailingNewline(true)   // jinja2 drops the template's last newline, not the output's: normalize()
                .withElResolver(resolver)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withUsePyishObjectMapper(true)
                        .withKeepNullableLoopValues(true)
                        .withHandleBackslashInQuotesOnly(true)
                        .withEvaluateMapKeys(true)
                        .build())
                .build();
        jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now",
                ChatTemplate.class, "strftimeNow", String.class));
        jinjava.getGlobalContext().registerFilter(new ToJson());
        jinjava.getGlobalContext().registerFilter(new Trim());
        jinjava.getGlobalContext().registerTag(new Generation());
    }

    /** The template text (newlines normalized, one trailing newline dropped, as jinja2 reads it). */
    public String source() {
        return source;
    }

    /** The prompt of {@code messages} (maps with "role" and "content", and whatever else the template reads). */
    public String render(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * As {@link #render(List, boolean)}, with more variables ({@code tools}, {@code documents},
     * {@code enable_thinking}, ...) that override the defaults and the special tokens.
     */
    public synchronized String render(List<Map<String, Object>> messages, boolean addGenerationPrompt,
            Map<String, ?> variables) {
        Map<String, Object> bindings = new HashMap<>(specialTokens);
        bindings.put("messages", messages);
        bindings.put("tools", null);
        bindings.put("documents", null);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.putAll(variables);
        RAISED.remove();
        RenderResult result;
        try {
            result = jinjava.renderForResult(parsed, bindings);
        } finally {
            String raised = RAISED.get();
            RAISED.remove();
            if (raised != null) throw new ChatTemplateException(raised);
        }
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException("chat template failed at line " + e.getLineno() + ": " + e.getMessage());
            }
        }
        return result.getOutput();
    }

    /** jinja2's reading of a template: \r\n and \r become \n, and one trailing \n is dropped. */
    private static String normalize(String s) {
        String t = s.replace("\r\n", "\n").replace('\r', '\n');
        return t.endsWith("\n") ? t.substring(0, t.length() - 1) : t;
    }

    /** {@code raise_exception(msg)}: recorded, then thrown by render (Jinjava would only log it). */
    public static String raiseException(String message) {
        if (RAISED.get() == null) RAISED.set(message == null ? "raise_exception called" : message);
        throw new IllegalStateException(message);
    }

    /** {@code strftime_now(fmt)}: the local time in Python's strftime format. */
    public static String strftimeNow(String format) {
        return StrftimeFormatter.format(ZonedDateTime.now(), format, Locale.ENGLISH);
    }

    /** tojson as transformers defines it: json.dumps(x, ensure_ascii=False, indent=, separators=, sort_keys=). */
    private static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, args, Map.of());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Map<String, Object> named = new LinkedHashMap<>(kwargs);
            String[] order = {"ensure_ascii", "indent", "separators", "sort_keys"};
            for (int i = 0; i < args.length && i < order.length; i++) named.put(order[i], args[i]);
            Object indent = named.get("indent");
            int ind = indent instanceof Number ? ((Number) indent).intValue() : -1;
            String itemSep = null;
            String keySep = null;
            if (named.get("separators") instanceof List) {
                List<?> seps = (List<?>) named.get("separators");
                itemSep = String.valueOf(seps.get(0));
                keySep = String.valueOf(seps.get(1));
            }
            boolean sort = Boolean.TRUE.equals(named.get("sort_keys"));
            return PyJson.dumps(var, ind, itemSep, keySep, sort);
        }
    }

    /** transformers' {@code {% generation %}...{% endgeneration %}}: the body, as rendered without assistant masks. */
    private static final class Generation implements Tag {
        private static final long serialVersionUID = 1L;

        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            try (InterpreterScopeClosable scope = interpreter.enterScope()) {
                StringBuilder out = new StringBuilder();
                for (Node child : tagNode.getChildren()) out.append(child.render(interpreter));
                return out.toString();
            }
        }
    }

    /** trim as jinja2 has it: Python's str.strip(chars). */
    private static final class Trim implements Filter {
        @Override
        public String getName() {
            return "trim";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return PyMethods.strip(Objects.toString(var), args.length > 0 ? args[0] : null, true, true);
        }
    }
}
