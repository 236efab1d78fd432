package dev.braindrip.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layer table of DESIGN.md, enforced: data flows down (cli → generate → model → nn → io →
 * ops → tensor → jni), only ops (and bench, which measures ops) sees jni, tensor knows no ops,
 * the fp64 reference uses plain Java, tensors and the ops' value types (specs) only, and no two
 * packages depend on each other.
 */
class LayerRulesTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importMain() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.braindrip");
    }

    @Test
    void layersOnlyPointDown() {
        layeredArchitecture().consideringOnlyDependenciesInLayers().withOptionalLayers(true)
                .layer("cli").definedBy("dev.braindrip.cli..")
                .layer("bench").definedBy("dev.braindrip.bench..")
                .layer("generate").definedBy("dev.braindrip.generate..")
                .layer("model").definedBy("dev.braindrip.model..")
                .layer("nn").definedBy("dev.braindrip.nn..")
                .layer("io").definedBy("dev.braindrip.io..")
                .layer("ops").definedBy("dev.braindrip.ops..")
                .layer("reference").definedBy("dev.braindrip.reference..")
                .layer("tensor").definedBy("dev.braindrip.tensor..")
                .layer("jni").definedBy("dev.braindrip.jni..")
                .whereLayer("cli").mayNotBeAccessedByAnyLayer()
                .whereLayer("bench").mayOnlyBeAccessedByLayers("cli")
                .whereLayer("generate").mayOnlyBeAccessedByLayers("cli", "bench")
                .whereLayer("model").mayOnlyBeAccessedByLayers("cli", "bench", "generate")
                .whereLayer("nn").mayOnlyBeAccessedByLayers("cli", "bench", "generate", "model")
                .whereLayer("io").mayOnlyBeAccessedByLayers("cli", "bench", "generate", "model", "nn")
                .whereLayer("ops").mayOnlyBeAccessedByLayers("cli", "bench", "generate", "model", "nn", "reference")
                .whereLayer("reference").mayOnlyBeAccessedByLayers("bench")
                .whereLayer("tensor").mayOnlyBeAccessedByLayers("cli", "bench", "generate", "model", "nn", "io", "ops", "reference")
                .whereLayer("jni").mayOnlyBeAccessedByLayers("ops", "bench", "tensor")
                .check(classes);
    }

    @Test
    void referenceUsesNoKernels() {
        noClasses().that().resideInAPackage("dev.braindrip.reference..")
                .should().dependOnClassesThat().haveFullyQualifiedName("dev.braindrip.ops.Ops")
                .orShould().dependOnClassesThat().haveSimpleNameEndingWith("Kernels")
                .orShould().dependOnClassesThat().haveSimpleNameEndingWith("Layer")
                .because("the fp64 oracle must not share code with the kernels it checks")
                .check(classes);
    }

    @Test
    void noPackageCycles() {
        slices().matching("dev.braindrip.(**)").should().beFreeOfCycles().check(classes);
    }
}
