# Optional host sanitizers for the CPU library (-DBD_SANITIZE=address,undefined).
set(BD_SANITIZE "" CACHE STRING "Comma-separated -fsanitize= list for the CPU library")
function(bd_apply_sanitizers target)
  if(BD_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${BD_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${BD_SANITIZE})
  endif()
endfunction()
