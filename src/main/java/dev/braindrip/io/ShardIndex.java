package dev.braindrip.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * {@code model.safetensors.index.json}: {@code {"metadata": {...}, "weight_map": {name: shard}}}.
 * Shard names must be plain file names of existing files in the index's folder.
 */
final class ShardIndex {
    /** Index files beyond this size are refused rather than parsed. */
    private static final long MAX_INDEX_BYTES = 100_000_000L;

    private final Map<String, String> weightMap;
    private final Map<String, String> metadata;

    private ShardIndex(Map<String, String> weightMap, Map<String, String> metadata) {
        this.weightMap = Collections.unmodifiableMap(weightMap);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    static ShardIndex read(Path indexFile) throws IOException {
        String file = String.valueOf(indexFile.getFileName());
        if (Files.size(indexFile) > MAX_INDEX_BYTES) {
            throw new SafeTensorsFormatException(file, null, "larger than " + MAX_INDEX_BYTES + " bytes");
        }
        ObjectNode root = StrictJson.parseObject(file, Files.readAllBytes(indexFile), "index");
        JsonNode weights = root.get("weight_map");
        if (weights == null || !weights.isObject()) {
            throw new SafeTensorsFormatException(file, null,
                    "weight_map must be an object, found " + StrictJson.kind(weights));
        }
        Path folder = indexFile.toAbsolutePath().getParent();
        return new ShardIndex(weightMap(file, weights, folder), metadata(root.get("metadata")));
    }

    private static Map<String, String> weightMap(String file, JsonNode weights, Path folder)
            throws SafeTensorsFormatException {
        Map<String, String> map = new LinkedHashMap<>();
        Set<String> checked = new LinkedHashSet<>();
        for (Map.Entry<String, JsonNode> e : weights.properties()) {
            JsonNode shard = e.getValue();
            if (!shard.isTextual()) {
                throw new SafeTensorsFormatException(file, e.getKey(),
                        "weight_map value must be a shard file name, found " + StrictJson.kind(shard));
            }
            if (checked.add(shard.textValue())) {
                checkShard(file, e.getKey(), shard.textValue(), folder);
            }
            map.put(e.getKey(), shard.textValue());
        }
        return map;
    }

    private static void checkShard(String file, String tensor, String shard, Path folder)
            throws SafeTensorsFormatException {
        Path path;
        try {
            path = folder.resolve(shard);
        } catch (java.nio.file.InvalidPathException e) {
            throw new SafeTensorsFormatException(file, tensor, "shard name '" + shard + "' is not a valid path", e);
        }
        if (shard.isEmpty() || shard.equals(".") || shard.equals("..") || !folder.equals(path.getParent()) || !path.getFileName().toString().equals(shard)) {
            throw new SafeTensorsFormatException(file, tensor,
                    "shard '" + shard + "' must be a file name in the index's folder");
        }
        if (!Files.isRegularFile(path)) {
            throw new SafeTensorsFormatException(file, tensor, "shard '" + shard + "' does not exist");
        }
    }

    private static Map<String, String> metadata(JsonNode node) {
        Map<String, String> map = new LinkedHashMap<>();
        if (node != null && node.isObject()) {
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                map.put(e.getKey(), e.getValue().isTextual() ? e.getValue().textValue() : e.getValue().toString());
            }
        }
        return map;
    }

    /** Tensor name to shard file name, in the index's order. */
    Map<String, String> weightMap() {
        return weightMap;
    }

    /** The distinct shard file names, in order of first appearance. */
    Set<String> shardFiles() {
        return new LinkedHashSet<>(weightMap.values());
    }

    /** The index's "metadata" object, values as text; empty if absent. */
    Map<String, String> metadata() {
        return metadata;
    }
}
